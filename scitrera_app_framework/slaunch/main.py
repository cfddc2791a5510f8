"""slaunch entry points: :func:`launch_app` for your own launcher scripts and the :func:`main` CLI.

Usage::

    python -m scitrera_app_framework.slaunch MANIFEST APP [--root DIR] [--no-update] [-v] [-- APP ARGS...]

Exit status: the app's own exit code (``128 + N`` if it was killed by signal N); 2 for a usage error, a bad
manifest or an unsafe name; 3 when installing failed and no version was installed, or the state file is corrupt.
slaunch's own errors are printed as one line, ``slaunch: error: ...``, without a traceback.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional, Sequence

from ._log import logger as slaunch_logger
from .errors import InvalidNameError, ManifestError, SlaunchError
from .launcher import launch_app

__all__ = ['launch_app', 'main', 'EXIT_USAGE', 'EXIT_INSTALL']

EXIT_USAGE = 2
EXIT_INSTALL = 3


def _parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(
        prog='slaunch',
        description='Install (or update) an app and its environment as a manifest says, then run it.',
        epilog='Arguments after "--" are passed to the app. The root defaults to $SLAUNCH_ROOT or a per-user data '
               'directory.')
    parser.add_argument('manifest', help='manifest file (.yaml/.yml/.json) or http(s) URL')
    parser.add_argument('app', help='name of the app in the manifest')
    parser.add_argument('--root', help='slaunch root directory (environments, apps, state)')
    parser.add_argument('--no-update', action='store_true',
                        help='launch the installed version without reading the manifest (installs only if missing)')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='log what slaunch does (-vv: also tool output)')
    return parser


def _one_line(exc: BaseException) -> str:
    return ' '.join(str(exc).split()) or type(exc).__name__


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the slaunch CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit status (see module doc)."""
    import logging

    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    app_args: List[str] = []
    if '--' in args:
        cut = args.index('--')
        args, app_args = args[:cut], args[cut + 1:]
    try:
        ns = _parser().parse_args(args)
    except SystemExit as exc:  # argparse already printed the usage / help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    logger = slaunch_logger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('slaunch: %(levelname)s: %(message)s'))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if ns.verbose > 1 else logging.INFO if ns.verbose else logging.WARNING)
    old_propagate = logger.propagate
    logger.propagate = False
    try:
        code = launch_app(ns.app, ns.manifest, root=ns.root, args=app_args, update=not ns.no_update)
    except (ManifestError, InvalidNameError) as exc:
        print(f'slaunch: error: {_one_line(exc)}', file=sys.stderr)
        return EXIT_USAGE
    except SlaunchError as exc:
        print(f'slaunch: error: {_one_line(exc)}', file=sys.stderr)
        output = getattr(exc, 'output', '')
        if output and ns.verbose:
            print(output.rstrip(), file=sys.stderr)
        return EXIT_INSTALL
    except KeyboardInterrupt:
        print('slaunch: interrupted', file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    return code if code >= 0 else 128 - code


if __name__ == '__main__':
    raise SystemExit(main())
