"""slaunch entry points: :func:`launch_app` for your own launcher scripts and the :func:`main` CLI (the ``slaunch``
console script).

Usage::

    slaunch MANIFEST APP [--root DIR] [--no-update] [-v] [--debug] [-- APP ARGS...]
    slaunch [-v] [--debug] [--root DIR] [--repository DIR] APP [APP ARGS...] [--app-version V]
            [--slaunch-app-update] [--slaunch-libs-update] [--slaunch-update] [--slaunch-full-reset]
    APP [APP ARGS...] [the same --app-version / --slaunch-* flags]     (a link to slaunch named after the app)
    slaunch verify APP [VERSION] [--root DIR]

The first form installs from a manifest (:mod:`.manifest`); it is chosen when the first argument looks like one
(a ``.yaml`` / ``.yml`` / ``.json`` name, a path, a URL or an existing file). The second and third launch an app of
the central repository (:mod:`.repository`, ``$SLAUNCH_REPOSITORY_PATH``) through the local cache; the flags are
the original slaunch's and are taken out of the app's arguments wherever they are (``--slaunch-debug`` is
``--debug`` there; ``--`` passes everything after it to the app unchanged). When the program's own name (a link
or a copy of the ``slaunch`` script) is an app of the repository or of the cache, that app is launched.
``verify`` checks an installed version's files against their hashes (see :mod:`.verify`).

Exit status: the app's own exit code (``128 + N`` if it was killed by signal N); 1 when ``verify`` finds damage or
slaunch itself fails unexpectedly; 2 for a usage error, a bad manifest, an unsafe name, a bad setting or a
misspelt entry point (the app's bootstrap reports it); 3 when installing failed and no version was installed,
the installed files are damaged beyond repair, or the state file is corrupt. slaunch's own errors are printed as
one line, ``slaunch: error: ...``, without a traceback (``--debug`` or ``SLAUNCH_DEBUG=1`` shows it).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._log import LOGGER_NAME
from ._log import logger as slaunch_logger
from .errors import InvalidNameError, ManifestError, SlaunchError
from .launcher import launch_app, launch_repository_app, looks_like_manifest

__all__ = ['launch_app', 'main', 'console_main', 'EXIT_USAGE', 'EXIT_INSTALL', 'EXIT_DAMAGED', 'ORIGINAL_FLAGS']

EXIT_DAMAGED = 1
EXIT_USAGE = 2
EXIT_INSTALL = 3
#: the original slaunch's flags (taken out of the app's arguments), and what each switches on
ORIGINAL_FLAGS = {'--slaunch-app-update': ('app_update',), '--slaunch-libs-update': ('libs_update',),
                  '--slaunch-update': ('app_update', 'libs_update'), '--slaunch-full-reset': ('reset',)}
_NOT_APPS = ('slaunch', '__main__', 'main', '-c', '')


class _Usage(Exception):
    """A command-line usage error (printed as one line, exit 2)."""


def _parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(
        prog='slaunch',
        description='Install (or update) an app and its environment as a manifest says, then run it.',
        epilog='Arguments after "--" are passed to the app. The root defaults to $SLAUNCH_ROOT or a per-user data '
               'directory. Other forms: "slaunch APP [args]" launches APP from the central repository '
               '($SLAUNCH_REPOSITORY_PATH) with the flags --app-version V, --slaunch-app-update, '
               '--slaunch-libs-update, --slaunch-update and --slaunch-full-reset; "slaunch verify APP [VERSION]" '
               'checks the installed files.')
    parser.add_argument('manifest', help='manifest file (.yaml/.yml/.json) or http(s) URL')
    parser.add_argument('app', help='name of the app in the manifest')
    parser.add_argument('--root', help='slaunch root directory (environments, apps, state)')
    parser.add_argument('--no-update', action='store_true',
                        help='launch the installed version without reading the manifest (installs only if missing)')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='log what slaunch does (-vv: also tool output)')
    parser.add_argument('--debug', action='store_true', help='show tracebacks (also in the app\'s bootstrap)')
    return parser


def _one_line(exc: BaseException) -> str:
    return ' '.join(str(exc).split()) or type(exc).__name__


def _split_argv(argv: Tuple[Any, ...], prog: Optional[str]) -> Tuple[str, List[str]]:
    """``main()``: sys.argv; ``main([args])``: the arguments only; ``main(prog, *args)``: like sys.argv."""
    if not argv:
        return (prog if prog is not None else sys.argv[0] if sys.argv else 'slaunch'), list(sys.argv[1:])
    if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
        return (prog or 'slaunch'), [str(a) for a in argv[0]]
    return (prog if prog is not None else str(argv[0])), [str(a) for a in argv[1:]]


def _program_app(prog: str) -> Optional[str]:
    """The app named by the program's own name (``/usr/local/bin/myapp`` -> ``myapp``), or None."""
    from .paths import validate_name

    name = os.path.basename(prog)
    for suffix in ('.exe', '-script.py', '-script.pyw', '.py', '.pyw'):
        if name.lower().endswith(suffix):
            name = name[:-len(suffix)]
            break
    if name.lower() in _NOT_APPS or name.lower().startswith('python'):
        return None
    try:
        return validate_name(name, 'app name')
    except InvalidNameError:
        return None


def _known_app(name: str) -> bool:
    """True when ``name`` is an app of the repository (when it can be read) or of the local cache."""
    from . import repository
    from .state import load_state

    try:
        if name in repository.read_index(repository.repository_path() / repository.INDEX_FILE):
            return True
    except (SlaunchError, OSError):
        pass
    try:
        return name in load_state(repository.cache_root())['apps']
    except (SlaunchError, OSError):
        return False


def _first_positional(args: Sequence[str]) -> Optional[int]:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == '--':
            return None
        if arg in ('--root', '--repository'):
            i += 2
            continue
        if arg.startswith('-'):
            i += 1
            continue
        return i
    return None


def _original_flags(args: Sequence[str]) -> Tuple[Dict[str, Any], List[str], bool]:
    """Take the original's flags (and ``--slaunch-debug``) out of the app's arguments."""
    opts: Dict[str, Any] = {}
    rest: List[str] = []
    debug = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == '--':
            rest.extend(args[i + 1:])
            break
        if arg == '--app-version' or arg.startswith('--app-version='):
            if '=' in arg:
                opts['version'] = arg.split('=', 1)[1]
            elif i + 1 < len(args):
                opts['version'] = args[i + 1]
                i += 1
            else:
                raise _Usage('--app-version needs a version (--app-version 1.2.0)')
        elif arg in ORIGINAL_FLAGS:
            for key in ORIGINAL_FLAGS[arg]:
                opts[key] = True
        elif arg == '--slaunch-debug':
            debug = True
        else:
            rest.append(arg)
        i += 1
    return opts, rest, debug


class _Leading:
    """slaunch's own options before the app name (``slaunch [options] APP ...``)."""

    __slots__ = ('verbose', 'debug', 'root', 'repository')

    def __init__(self, debug: bool = False) -> None:
        self.verbose = 0
        self.debug = debug
        self.root: Optional[str] = None
        self.repository: Optional[str] = None


def _leading_options(args: Sequence[str]) -> _Leading:
    """slaunch's own options before the app name in ``slaunch [options] APP ...``."""
    out = _Leading()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ('-v', '--verbose'):
            out.verbose += 1
        elif arg == '-vv':
            out.verbose += 2
        elif arg in ('--debug', '--slaunch-debug'):
            out.debug = True
        elif arg in ('--root', '--repository'):
            if i + 1 >= len(args):
                raise _Usage(f'{arg} needs a directory')
            if arg == '--root':
                out.root = args[i + 1]
            else:
                out.repository = args[i + 1]
            i += 1
        else:
            raise _Usage(f'unknown option {arg!r} before the app name (options for the app go after it)')
        i += 1
    return out


def _logging(verbose: int, debug: bool) -> Callable[[], None]:
    """Send slaunch's log records to stderr (progress lines at INFO by default); return the undo function."""
    import logging

    log = slaunch_logger()
    progress = logging.getLogger(LOGGER_NAME + '.progress')
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('slaunch: %(levelname)s: %(message)s'))
    saved_level, saved_propagate, saved_progress = log.level, log.propagate, progress.level
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else logging.WARNING
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    progress.setLevel(min(level, logging.INFO))

    def _undo() -> None:
        log.removeHandler(handler)
        log.setLevel(saved_level)
        log.propagate = saved_propagate
        progress.setLevel(saved_progress)

    return _undo


def main(*argv: Any, prog: Optional[str] = None) -> int:
    """Run the slaunch CLI and return the exit status (see the module docstring).

    ``main()`` reads ``sys.argv``; ``main(['manifest.yaml', 'app'])`` takes the arguments only (program
    ``slaunch``); ``main('myapp', '--x')`` (the original's ``main(*argv)``) takes a program name first, like
    ``sys.argv``, so ``main(*sys.argv)`` works from a link named after an app.
    """
    program, args = _split_argv(argv, prog)
    app_from_prog = _program_app(program)
    debug = os.environ.get('SLAUNCH_DEBUG', '') not in ('', '0')
    try:
        if app_from_prog is not None and _known_app(app_from_prog):
            opts, app_args, flag_debug = _original_flags(args)
            return _run_repository(app_from_prog, app_args, opts, _Leading(debug=debug or flag_debug))
        first = _first_positional(args)
        if first is not None and args[first] == 'verify':
            return _run_verify(args[:first] + args[first + 1:], debug)
        if first is not None and not looks_like_manifest(args[first]):
            leading = _leading_options(args[:first])
            opts, app_args, flag_debug = _original_flags(args[first + 1:])
            leading.debug = leading.debug or debug or flag_debug
            return _run_repository(args[first], app_args, opts, leading)
    except _Usage as exc:
        print(f'slaunch: error: {exc}', file=sys.stderr)
        return EXIT_USAGE
    return _run_manifest(args, debug)


def console_main() -> None:
    """The ``slaunch`` console script: ``sys.exit(main())``."""
    raise SystemExit(main())


def _run_manifest(args: List[str], debug: bool) -> int:
    app_args: List[str] = []
    if '--' in args:
        cut = args.index('--')
        args, app_args = args[:cut], args[cut + 1:]
    try:
        ns = _parser().parse_args(args)
    except SystemExit as exc:  # argparse already printed the usage / help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = debug or ns.debug
    return _guarded(lambda: launch_app(ns.app, ns.manifest, root=ns.root, args=app_args, update=not ns.no_update,
                                       env={'SLAUNCH_DEBUG': '1'} if debug else None), ns.verbose, debug)


def _run_repository(app: str, app_args: List[str], opts: Dict[str, Any], leading: _Leading) -> int:
    env = {'SLAUNCH_DEBUG': '1'} if leading.debug else None
    return _guarded(lambda: launch_repository_app(app, *app_args, root=leading.root,
                                                  repository=leading.repository, env=env,
                                                  version=opts.get('version'), app_update=bool(opts.get('app_update')),
                                                  libs_update=bool(opts.get('libs_update')),
                                                  reset=bool(opts.get('reset'))),
                    leading.verbose, leading.debug)


def _run_verify(args: List[str], debug: bool) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog='slaunch verify', description='Check the files of an installed app '
                                     'version (and its libs and packages) against their recorded hashes.')
    parser.add_argument('app')
    parser.add_argument('version', nargs='?')
    parser.add_argument('--root', help='the slaunch root (default: $SLAUNCH_ROOT / the per-user data directory, '
                                       'then the repository cache)')
    parser.add_argument('-v', '--verbose', action='count', default=0)
    parser.add_argument('--debug', action='store_true')
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    def _verify() -> int:
        from .paths import resolve_root
        from .repository import cache_root
        from .verify import installed_versions, verify_app

        root = ns.root
        if root is None:
            for candidate in (resolve_root(None), cache_root()):
                if installed_versions(ns.app, candidate) is not None:
                    root = candidate
                    break
            else:
                raise ManifestError(f'app {ns.app!r} is not installed in {resolve_root(None)} nor in the '
                                    f'repository cache {cache_root()}; pass --root')
        report = verify_app(ns.app, ns.version, root=root)
        for line in report.lines():
            print(line)
        return 0 if report.ok else EXIT_DAMAGED

    return _guarded(_verify, ns.verbose, debug or ns.debug)


def _guarded(run: Callable[[], Any], verbose: int, debug: bool) -> int:
    """Run ``run`` with logging set up; turn slaunch's errors into one line and an exit status."""
    from ..exceptions import ConfigurationError

    undo = _logging(verbose, debug)
    try:
        code = run()
    except (ManifestError, InvalidNameError, ConfigurationError) as exc:
        return _fail(exc, EXIT_USAGE, debug)
    except SlaunchError as exc:
        code = _fail(exc, EXIT_INSTALL, debug)
        output = getattr(exc, 'output', '')
        if output and verbose:
            print(output.rstrip(), file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print('slaunch: interrupted', file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never ends in a bare traceback
        return _fail(exc, EXIT_DAMAGED, debug, prefix=f'internal error: {type(exc).__name__}: ',
                     suffix='' if debug else ' (run with --debug for the traceback)')
    finally:
        undo()
    if not isinstance(code, int):
        return 0
    return code if code >= 0 else 128 - code


def _fail(exc: BaseException, code: int, debug: bool, prefix: str = '', suffix: str = '') -> int:
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    print(f'slaunch: error: {prefix}{_one_line(exc)}{suffix}', file=sys.stderr)
    return code


if __name__ == '__main__':
    raise SystemExit(main())
