"""The ``saf`` command (also ``python -m scitrera_app_framework``): an app's configuration, plugins and health.

    saf config [--app MODULE:FUNC [--app-arg KEY=VALUE ...]] [--all] [--json | --explain KEY | --docs]
    saf plugins [--app MODULE:FUNC [--app-arg KEY=VALUE ...]] [--json | --dot]
    saf health [--app MODULE:FUNC [--app-arg KEY=VALUE ...]]
    saf version

``--app`` imports your module and calls its setup function first (one that calls ``init_framework`` and
registers plugins; if it returns a ``Variables``, that one is shown), so your declared variables and plugins
appear. Each ``--app-arg KEY=VALUE`` (repeatable) is passed to the setup function as the keyword argument
``KEY='VALUE'`` (a string; a secret-named KEY's value is masked wherever saf prints, also in ``--debug``
tracebacks); a KEY given twice is a usage error. ``--timeout SECONDS`` (default 60; 0: no bound) bounds the app's
part of the run, from its import to its shutdown: past it saf prints one line naming the app, what it was doing
(importing it, running its setup function, ...) and where it waited, and exits with code 124. Without ``--app`` the
framework's own settings are shown, as this environment
resolves them (with ``SAF_CONFIG_FILES`` and ``SAF_SECRETS_DIR`` read). Secrets are always masked.

``config`` with ``--app`` shows the app's variables; the framework's own (``SAF_*``, ``LOGGING_*``, ``APP_NAME``,
...) are counted on a last line and shown with ``--all``. The output is the command's alone: whatever the app
prints (at import, in its setup, from its threads, at exit, even on the raw file descriptor) goes to stderr, and
``--json`` is always one valid JSON document (a value that cannot be shown, NaN or an infinity is a string
``<unprintable TYPE>`` / ``<float nan>``; mapping keys that are not strings become their ``repr``).

``plugins`` and ``health`` print their table even when the setup failed (a plugin whose ``initialize``
raised): the plugins that loaded, the failing one with its error; the error is one line on stderr, and the
exit code is 1. After the output, saf runs the app's shutdown phases (plugin shutdowns, shutdown hooks), so an
app whose plugins keep threads until their shutdown does not keep saf running; a thread the app started and
never stops is named on stderr and not waited for.

Exit codes: 0 ok (for ``health``: the app is healthy), 1 a runtime error (one line; ``--debug`` for the
traceback), a plugin that failed, or, for ``health``, an app that is not healthy, 2 a usage error (its message
masked, like every line saf prints), 124 the app did not finish within ``--timeout``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import sys
from typing import Any, Iterator, Mapping, NoReturn, Optional, Sequence, TextIO

from .api.variables import Variables
from .exceptions import SAFError

#: the default of ``--timeout``: seconds the app's part of a saf run may take
_DEFAULT_TIMEOUT = 60.0
#: the exit code when the app did not finish within ``--timeout`` (as the shutdown watchdog's, and timeout(1)'s)
_EXIT_TIMEOUT = 124


class _Parser(argparse.ArgumentParser):
    """saf's parsers: a usage error's message is masked (``saf config API_TOKEN=...`` echoes the word it did not
    expect; a secret-named pair or a known secret value in it prints as ``****``)."""

    def error(self, message: str) -> NoReturn:
        from .util.secrets import mask_text
        super().error(mask_text(message))


class _AppArg(argparse.Action):
    """``--app-arg KEY=VALUE``, repeatable; a KEY given twice is a usage error (which value the setup function
    should get would be a guess)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        key = values[0]
        if any(k == key for k, _ in items):
            raise argparse.ArgumentError(self, f'{key} is given more than once; give each key once')
        items.append(values)
        setattr(namespace, self.dest, items)


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise argparse.ArgumentTypeError(f'expected a number of seconds >= 0 (0: no bound), got {text!r}')
    return seconds


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog='saf', description='Inspect a scitrera-app-framework app: configuration, plugins, health.')
    p.add_argument('--debug', action='store_true', help='show the traceback of an error')
    sub = p.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True

    def app_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument('--app', metavar='MODULE:FUNC', help="your app's setup function, called first")
        sp.add_argument('--app-arg', metavar='KEY=VALUE', action=_AppArg, type=_key_value, default=[],
                        help='a keyword argument for the setup function (a string; repeat for more; each KEY once)')
        sp.add_argument('--timeout', metavar='SECONDS', type=_timeout, default=_DEFAULT_TIMEOUT,
                        help=f'seconds the app may take, from its import to its shutdown (default '
                             f'{_DEFAULT_TIMEOUT:g}; 0: no bound); past them saf exits with code {_EXIT_TIMEOUT}')

    c = sub.add_parser('config', help='every known variable: value (masked where secret) and where it came from')
    app_arg(c)
    c.add_argument('--all', action='store_true', help="also the framework's own variables (SAF_*, LOGGING_*, ...)")
    mode = c.add_mutually_exclusive_group()
    mode.add_argument('--json', action='store_true', help='as JSON (a list of explanations)')
    mode.add_argument('--explain', metavar='KEY', help='one variable in detail')
    mode.add_argument('--docs', action='store_true', help='the declared variables as a Markdown reference')
    pl = sub.add_parser('plugins', help='the registered plugins and their states')
    app_arg(pl)
    pmode = pl.add_mutually_exclusive_group()
    pmode.add_argument('--json', action='store_true', help='as JSON')
    pmode.add_argument('--dot', action='store_true', help='the dependency graph in Graphviz DOT')
    h = sub.add_parser('health', help='the health report (exit 1 when the app is not healthy)')
    app_arg(h)
    sub.add_parser('version', help='the framework and Python versions')
    return p


def _key_value(text: str) -> tuple[str, str]:
    from .util.secrets import add_secret_value, is_secret_key, mask_text

    key, eq, value = text.partition('=')
    if not eq or not key.strip().isidentifier():
        # (masked: a malformed 'API-TOKEN=...' must not print the secret)
        raise argparse.ArgumentTypeError(f'{mask_text(text)!r}: expected KEY=VALUE, KEY a Python name (e.g. --app-arg '
                                         f'region=eu-west)')
    if is_secret_key(key.strip()):
        add_secret_value(value)  # a known secret value before the app runs: masked in its errors
    return key.strip(), value


class CliError(SAFError):
    """A runtime error of the command: printed as one line, exit code 1."""


class _SetupFailed(Exception):
    """The app's setup raised; ``v`` is what it had set up so far (the plugins that loaded), or None."""

    def __init__(self, error: BaseException, v: Optional[Variables]) -> None:
        super().__init__(str(error))
        self.error, self.v = error, v


class _Watchdog:
    """The bound of ``--timeout``: when the app's part of the run (import, setup, the report, its shutdown) has
    not finished after ``timeout`` seconds, write one line naming the app, what it was doing and where the thread
    running it waits, and end the process with exit code 124 (``os._exit``: that thread is the app's, stuck;
    nothing that could wait on it runs)."""

    def __init__(self, spec: str, timeout: float) -> None:
        import threading

        self.spec, self.timeout = spec, timeout
        self.doing = 'starting'
        self._ident = threading.get_ident()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name='saf-timeout', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        if self._done.wait(self.timeout):
            return
        from .util.secrets import mask_text
        where = self._where()
        line = (f'saf: error: --app {self.spec!r} did not finish within {self.timeout:g}s: it was {self.doing}'
                f'{f" (waiting at {where})" if where else ""}; find what it waits for, or give it more time with '
                f'--timeout SECONDS (0: no bound)')
        data = (mask_text(line).replace('\n', ' ') + '\n').encode('utf-8', 'backslashreplace')
        with contextlib.suppress(OSError):
            os.write(2, data)  # (not sys.stderr: the stuck thread may hold its lock)
        os._exit(_EXIT_TIMEOUT)

    def _where(self) -> str:
        """``FILE:LINE in FUNC`` of the innermost frame of the stuck thread that is neither the standard
        library's nor the framework's (the app's code), else the innermost one."""
        import sysconfig
        import traceback

        frame = sys._current_frames().get(self._ident)
        if frame is None:
            return ''
        stack = traceback.extract_stack(frame)
        skip = tuple(os.path.normcase(os.path.realpath(d)) + os.sep for d in
                     {sysconfig.get_paths()['stdlib'], sysconfig.get_paths()['platstdlib'],
                      os.path.dirname(os.path.abspath(__file__))})
        chosen = stack[-1] if stack else None
        for fs in reversed(stack):
            name = os.path.normcase(os.path.realpath(fs.filename))
            if not fs.filename.startswith('<') and not name.startswith(skip):
                chosen = fs
                break
        if chosen is None:
            return ''
        shown = chosen.filename
        with contextlib.suppress(ValueError):
            rel = os.path.relpath(shown)
            shown = rel if not rel.startswith('..') else shown
        return f'{shown}:{chosen.lineno} in {chosen.name}'


def _load_app(spec: Optional[str], app_args: Sequence[tuple[str, str]] = (),
              watchdog: Optional[_Watchdog] = None) -> Variables:
    """Run the app's setup function (``--app``) or set up the framework's own settings; return the Variables.

    Raises:
        _SetupFailed: the setup function raised (an Exception); carries the partly set-up Variables.
    """
    from .core.core import init_framework_embedded
    from .core.defaults import get_variables, peek_default_variables

    if not spec:
        return init_framework_embedded('saf', v=Variables())
    module_name, _, func_name = spec.partition(':')
    if not module_name or not func_name:
        raise CliError(f'--app {spec!r}: expected MODULE:FUNC, e.g. myapp.main:setup')
    if '' not in sys.path and '.' not in sys.path:
        sys.path.insert(0, '')  # the current directory, as python -m does
    # an inspection tool: the app must not install its shutdown signal handlers (a SIGTERM then ends saf as it
    # would any command) nor open its probe port
    os.environ['SAF_INSTALL_SHUTDOWN_HOOKS'] = 'false'
    os.environ.pop('SAF_HEALTH_PORT', None)
    if watchdog is not None:
        watchdog.doing = f'importing {module_name}'
    try:
        with contextlib.redirect_stdout(sys.stderr):  # (prints at import)
            module = importlib.import_module(module_name)
    except (ImportError, TypeError, ValueError) as e:  # TypeError/ValueError: a malformed name ('..x')
        raise CliError(f'--app {spec!r}: cannot import {module_name!r}: {e}') from e
    func = getattr(module, func_name, None)
    if not callable(func):
        raise CliError(f'--app {spec!r}: {module_name} has no function {func_name!r}')
    if watchdog is not None:
        watchdog.doing = f'running its setup function {spec}'
    try:
        with contextlib.redirect_stdout(sys.stderr):  # what the setup prints must not mix with our output
            result = func(**dict(app_args))
    except Exception as e:
        raise _SetupFailed(e, peek_default_variables()) from e
    if isinstance(result, Variables):
        return result
    v = peek_default_variables()
    return v if v is not None else get_variables()


def _table(rows: list[list[str]], headers: list[str], out: TextIO) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out.write('  '.join(h.ljust(w) for h, w in zip(headers, widths)).rstrip() + '\n')
    out.write('  '.join('-' * w for w in widths) + '\n')
    for r in rows:
        out.write('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + '\n')


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - an app's broken __repr__ must not fail the command
        return f'<unprintable {type(value).__name__}>'
    return text if isinstance(text, str) else f'<unprintable {type(value).__name__}>'


def _short(value: Any, limit: int = 60) -> str:
    text = _safe_repr(value) if not isinstance(value, str) else value
    text = text.replace('\n', '\\n')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _jsonable(value: Any, depth: int = 0, active: Optional[set[int]] = None) -> Any:
    """``value`` as plain JSON data: keys that are not strings become their repr, tuples and sets lists, NaN and
    infinities ``<float nan>`` / ``<float inf>``, anything else its ``str`` (or ``<unprintable TYPE>``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):  # (beyond ~4,000 digits Python refuses to print an int)
        return int(value) if value.bit_length() < 13_000 else f'<int of {value.bit_length():,} bits>'
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else f'<float {value!r}>'
    active = active if active is not None else set()
    if depth > 50 or id(value) in active:
        return f'<recursive {type(value).__name__}>'
    try:
        return _jsonable_container(value, depth, active)
    except Exception:  # noqa: BLE001 - a mapping or sequence that fails to iterate
        return f'<unprintable {type(value).__name__}>'


def _jsonable_container(value: Any, depth: int, active: set[int]) -> Any:
    if isinstance(value, Mapping):
        active.add(id(value))
        try:
            return {(k if isinstance(k, str) else _safe_repr(k)): _jsonable(val, depth + 1, active)
                    for k, val in list(value.items())}
        finally:
            active.discard(id(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        active.add(id(value))
        try:
            items = sorted(value, key=_safe_repr) if isinstance(value, (set, frozenset)) else list(value)
            return [_jsonable(x, depth + 1, active) for x in items]
        finally:
            active.discard(id(value))
    try:
        text = str(value)
    except Exception:  # noqa: BLE001
        return f'<unprintable {type(value).__name__}>'
    return text if isinstance(text, str) else f'<unprintable {type(value).__name__}>'


def _dump_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(_jsonable(data), indent=2, allow_nan=False) + '\n')  # built whole: never truncated


def _config(args: argparse.Namespace, v: Variables, out: TextIO) -> int:
    from .cmdline import is_framework_variable

    show_all = args.all or not args.app  # without --app, the framework's settings are the point

    if args.docs:
        from .core.util import describe_variables, variables_markdown
        out.write(variables_markdown([r for r in describe_variables(v)
                                      if show_all or not is_framework_variable(r['name'])]))
        return 0
    if args.explain:
        key = args.explain
        if key not in v.keys():  # WORKERS for workers: the way environment names match
            key = next((k for k in v.keys() if isinstance(k, str) and k.upper() == key.upper()), key)
        args.explain = key
        info = v.explain(key)
        if args.explain not in v and info['layer'] == 'not set':
            out.write(f'{args.explain}: not set anywhere\n')
            return 0
        for k in ('key', 'value', 'layer', 'origin', 'type', 'default', 'secret', 'required', 'help', 'error'):
            if k in info and info[k] is not None:
                out.write(f'{k}: {_short(info[k], 200)}\n')
        return 0
    rows = v.explain_all()
    hidden = 0
    if not show_all:
        kept = [r for r in rows if not is_framework_variable(r['key'])]
        hidden = len(rows) - len(kept)
        rows = kept
    if args.json:
        _dump_json(rows, out)
        return 0
    table = [[r['key'], _short(r.get('error') and '<invalid>' or r['value']),
              r['layer'] + (f" ({r['origin']})" if r['origin'] else ''), r['type'] or ''] for r in rows]
    _table(table, ['variable', 'value', 'source', 'type'], out)
    if hidden:
        out.write(f'({hidden} framework variables hidden: SAF_*, LOGGING_*, APP_NAME, ...; --all shows them)\n')
    return 0


def _plugins(args: argparse.Namespace, v: Variables, out: TextIO) -> int:
    from .core.plugins import describe_plugins, plugin_graph
    from .util.secrets import mask_text

    if args.dot:
        out.write(plugin_graph(v).to_dot())
        return 0
    rows = describe_plugins(v)
    for r in rows:
        if r.get('error'):
            r['error'] = mask_text(r['error'])
    failed = 1 if any(r['state'] == 'failed' for r in rows) else 0
    if args.json:
        _dump_json(rows, out)
        return failed
    table = [[r['name'], r['extension_point'], 'multi' if r['multi'] else 'single',
              'eager' if r['eager'] else 'lazy', r['state'] + ('' if r['enabled'] else ' (disabled)'),
              ', '.join(r['dependencies']), _short(r.get('error') or '', 120)] for r in rows]
    _table(table, ['plugin', 'extension point', 'kind', 'init', 'state', 'depends on', 'error'], out)
    return failed


def _health(args: argparse.Namespace, v: Variables, out: TextIO) -> int:
    from .core.health import health
    report = health(v)
    _dump_json(report, out)
    return 0 if report.get('status') == 'ok' else 1


def _version(out: TextIO) -> int:
    import platform

    from . import __version__
    out.write(f'scitrera-app-framework {__version__} (Python {platform.python_version()})\n')
    return 0


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    """Run the ``saf`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    ``out`` (default: the process's standard output, kept for the command alone while the app runs with its
    stdout sent to stderr) receives the command's output. With ``--app``, a run that exceeds ``--timeout`` ends
    the process with exit code 124 (the thread running the app is stuck: nothing could return from it)."""
    args = _parser().parse_args(list(argv) if argv is not None else None)  # usage errors: SystemExit(2)
    if args.command == 'version':
        return _version(out or sys.stdout)
    if out is not None:
        return _run(args, out)
    with _stdout_kept_apart() as real_out:
        return _run(args, real_out)


@contextlib.contextmanager
def _stdout_kept_apart() -> Iterator[TextIO]:
    """Point file descriptor 1 at stderr for the app (its prints, its threads, its child processes) and yield a
    stream on the original stdout for the command's output; restore it afterwards."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no usable stdout: nothing to keep apart
        yield sys.stdout
        return
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        yield sys.stdout
        return
    real = os.fdopen(os.dup(saved), 'w', encoding='utf-8', errors='backslashreplace')
    try:
        yield real
    finally:
        with contextlib.suppress(OSError, ValueError):
            real.close()
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _error_line(e: BaseException, debug: bool) -> None:
    from .util.secrets import mask_text
    if debug:
        import traceback
        sys.stderr.write(mask_text(''.join(traceback.format_exception(type(e), e, e.__traceback__))))
        return
    text = mask_text(str(e)).splitlines()
    sys.stderr.write(f'saf: error: {type(e).__name__}: {text[0] if text else ""}'
                     f'{" (...)" if len(text) > 1 else ""} (--debug for the traceback)\n')


_DOING = {'config': 'reading its configuration', 'plugins': 'listing its plugins',
          'health': 'running its health checks'}


def _run(args: argparse.Namespace, out: TextIO) -> int:
    loaded = False
    spec = getattr(args, 'app', None)
    watchdog = _Watchdog(spec, args.timeout) if spec and args.timeout > 0 else None
    try:
        try:
            v = _load_app(spec, args.app_arg, watchdog)
        except _SetupFailed as failed:
            _error_line(failed.error, args.debug)
            if args.command == 'config' or failed.v is None:
                return 1
            v = failed.v  # plugins / health: the table of what loaded, and the failing one
            if watchdog is not None:
                watchdog.doing = _DOING[args.command]
            code = _plugins(args, v, out) if args.command == 'plugins' else _health(args, v, out)
            loaded = True
            return 1 if code == 0 else code
        loaded = True
        if watchdog is not None:
            watchdog.doing = _DOING[args.command]
        if args.command == 'config':
            return _config(args, v, out)
        if args.command == 'plugins':
            return _plugins(args, v, out)
        return _health(args, v, out)
    except SystemExit as e:  # the app's setup called sys.exit
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
            sys.stderr.write(f'saf: error: the app exited (SystemExit({code}))\n')
            return code if code else 1
        from .util.secrets import mask_text  # sys.exit('message'): the message, as Python would print it
        text = mask_text(str(e.code)).strip().splitlines()
        sys.stderr.write(f'saf: error: the app exited (SystemExit): {text[0] if text else ""}'
                         f'{" (...)" if len(text) > 1 else ""}\n')
        return 1
    except KeyboardInterrupt:
        sys.stderr.write('saf: interrupted\n')
        return 130
    except BaseException as e:
        _error_line(e, args.debug)
        return 1
    finally:
        with contextlib.suppress(OSError, ValueError):
            out.flush()
        if loaded or spec:
            if watchdog is not None:
                watchdog.doing = 'running its shutdown phases'
            _shut_down(args.debug)
        if watchdog is not None:
            watchdog.stop()


def _shut_down(debug: bool) -> None:
    """Run the app's shutdown phases (plugin shutdowns, hooks) now: threads its plugins keep until their
    shutdown would otherwise keep saf from exiting."""
    from .core.shutdown import run_shutdown_hooks
    try:
        run_shutdown_hooks('saf')
    except Exception as e:  # noqa: BLE001 - reported, the command's result stands
        _error_line(e, debug)


def console_main() -> None:
    """Entry point of the ``saf`` console script (and ``python -m scitrera_app_framework``)."""
    code = main()
    try:  # the output is complete: what runs after (atexit handlers, the app's threads) goes to stderr
        sys.stdout.flush()
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        pass
    _exit_now(code)


def _exit_now(code: int) -> NoReturn:
    """Exit with ``code``. A thread the app started and left running (not a plugin's: the shutdown phases have
    run) is named on stderr and not waited for: an inspection command must not hang on the app's threads."""
    import threading

    left = [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if not left:
        raise SystemExit(code)
    names = ', '.join(repr(t.name) for t in left[:5]) + (', ...' if len(left) > 5 else '')
    sys.stderr.write(f'saf: the app left {len(left)} thread(s) running ({names}); exiting without waiting for '
                     f'them\n')
    import logging
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)


__all__ = ['main', 'console_main', 'CliError']
