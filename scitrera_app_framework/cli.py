"""The ``saf`` command (also ``python -m scitrera_app_framework``): an app's configuration, plugins and health.

    saf config [--app MODULE:FUNC] [--json | --explain KEY | --docs]
    saf plugins [--app MODULE:FUNC] [--json | --dot]
    saf health [--app MODULE:FUNC]
    saf version

``--app`` imports your module and calls its setup function first (one that calls ``init_framework`` and
registers plugins; if it returns a ``Variables``, that one is shown), so your declared variables and plugins
appear. Without ``--app`` the framework's own settings are shown, as this environment resolves them (with
``SAF_CONFIG_FILES`` and ``SAF_SECRETS_DIR`` read). Secrets are always masked.

Exit codes: 0 ok (for ``health``: the app is healthy), 1 a runtime error (one line; ``--debug`` for the
traceback) or, for ``health``, an app that is not healthy, 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from typing import Any, Optional, Sequence, TextIO

from .api.variables import Variables
from .exceptions import SAFError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='saf', description='Inspect a scitrera-app-framework app: configuration, '
                                                        'plugins, health.')
    p.add_argument('--debug', action='store_true', help='show the traceback of an error')
    sub = p.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True

    def app_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument('--app', metavar='MODULE:FUNC', help="your app's setup function, called first")

    c = sub.add_parser('config', help='every known variable: value (masked where secret) and where it came from')
    app_arg(c)
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


class CliError(SAFError):
    """A runtime error of the command: printed as one line, exit code 1."""


def _load_app(spec: Optional[str]) -> Variables:
    """Run the app's setup function (``--app``) or set up the framework's own settings; return the Variables."""
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
    try:
        module = importlib.import_module(module_name)
    except (ImportError, TypeError, ValueError) as e:  # TypeError/ValueError: a malformed name ('..x')
        raise CliError(f'--app {spec!r}: cannot import {module_name!r}: {e}') from e
    func = getattr(module, func_name, None)
    if not callable(func):
        raise CliError(f'--app {spec!r}: {module_name} has no function {func_name!r}')
    with contextlib.redirect_stdout(sys.stderr):  # what the setup prints must not mix with our output
        result = func()
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


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    text = text.replace('\n', '\\n')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _config(args: argparse.Namespace, v: Variables, out: TextIO) -> int:
    if args.docs:
        from .core.util import describe_variables, variables_markdown
        out.write(variables_markdown(describe_variables(v)))
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
    if args.json:
        json.dump(rows, out, indent=2, default=str)
        out.write('\n')
        return 0
    table = [[r['key'], _short(r.get('error') and '<invalid>' or r['value']),
              r['layer'] + (f" ({r['origin']})" if r['origin'] else ''), r['type'] or ''] for r in rows]
    _table(table, ['variable', 'value', 'source', 'type'], out)
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
    if args.json:
        json.dump(rows, out, indent=2, default=str)
        out.write('\n')
        return 0
    table = [[r['name'], r['extension_point'], 'multi' if r['multi'] else 'single',
              'eager' if r['eager'] else 'lazy', r['state'] + ('' if r['enabled'] else ' (disabled)'),
              ', '.join(r['dependencies']), _short(r.get('error') or '', 50)] for r in rows]
    _table(table, ['plugin', 'extension point', 'kind', 'init', 'state', 'depends on', 'error'], out)
    return 0


def _health(args: argparse.Namespace, v: Variables, out: TextIO) -> int:
    from .core.health import health
    report = health(v)
    json.dump(report, out, indent=2, default=str)
    out.write('\n')
    return 0 if report.get('status') == 'ok' else 1


def _version(out: TextIO) -> int:
    import platform

    from . import __version__
    out.write(f'scitrera-app-framework {__version__} (Python {platform.python_version()})\n')
    return 0


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    """Run the ``saf`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    out = out or sys.stdout
    args = _parser().parse_args(list(argv) if argv is not None else None)  # usage errors: SystemExit(2)
    try:
        if args.command == 'version':
            return _version(out)
        v = _load_app(getattr(args, 'app', None))
        if args.command == 'config':
            return _config(args, v, out)
        if args.command == 'plugins':
            return _plugins(args, v, out)
        return _health(args, v, out)
    except SystemExit as e:  # the app's setup called sys.exit
        code = e.code if isinstance(e.code, int) else 1
        sys.stderr.write(f'saf: error: the app exited (SystemExit({code}))\n')
        return code if code else 1
    except KeyboardInterrupt:
        sys.stderr.write('saf: interrupted\n')
        return 130
    except BaseException as e:
        if args.debug:
            import traceback
            traceback.print_exc()
        else:
            from .util.secrets import mask_text
            text = mask_text(str(e)).splitlines()
            sys.stderr.write(f'saf: error: {type(e).__name__}: {text[0] if text else ""}'
                             f'{" (...)" if len(text) > 1 else ""} (--debug for the traceback)\n')
        return 1


def console_main() -> None:
    """Entry point of the ``saf`` console script."""
    raise SystemExit(main())


__all__ = ['main', 'console_main', 'CliError']
