"""Command-line tools: options built from what the app declared, strict parsing, quiet defaults, one-line errors.

::

    import argparse
    from scitrera_app_framework.cmdline import run
    from scitrera_app_framework.settings import Settings, field

    class ToolSettings(Settings, prefix='WORDTOOL'):
        repeat: int = field(1, help='how many times to print each result')
        upper: bool = field(False, help='upper-case the output')

    def main(args, v):
        s = ToolSettings.load(v)
        print(' '.join([args.text.upper() if s.upper else args.text] * s.repeat))

    if __name__ == '__main__':
        parser = argparse.ArgumentParser(prog='wordtool')
        parser.add_argument('text')
        run(main, 'wordtool', parser=parser, settings=[ToolSettings])

``wordtool --help`` lists ``--repeat INT`` and ``--upper/--no-upper`` with their help, default and environment
variable; ``wordtool --repeat 3 hi`` sets ``WORDTOOL_REPEAT`` at the command-line layer (above the environment,
as ``init_framework(cli_args=...)`` does); the app's own arguments (``text``, sub-commands) stay in its
``Namespace`` and never become variables.

**Options.** One per settings field (groups included) and per declared variable (``v.environ(..., help=...)``
before :func:`run`, or any variable with a registered default or type). The option is the field's dotted path
(``repeat`` -> ``--repeat``, ``db.host`` -> ``--db-host``), or for a declared variable its name (``HTTP_PORT`` ->
``--http-port``); when two variables want the same option, or the app's parser already has it, the variable's
full name is used (``--wordtool-repeat``). ``int`` and ``float`` are checked by argparse (``--repeat x`` exits 2);
booleans are ``--flag/--no-flag``; every other type is taken as text and converted by the settings, as an
environment value would be. A secret's value is never shown (no default in the help). Framework variables
(``SAF_*``, ``LOGGING_*``, ...) get no option. The options are added to the parser and to each of its
sub-command parsers, so ``wordtool --repeat 3 count x`` and ``wordtool count x --repeat 3`` both work.

**Strict parsing.** An unknown option is one line on stderr, with a did-you-mean, and exit code 2; ``--help``
prints the usage and exits 0 (argparse's conventions). A usage error never quotes a secret option's value
(``--pin x``: invalid int value, not shown; ``--api-tokn=VALUE`` or an ambiguous ``--api=VALUE``: ``****``), also
when a parser made with ``exit_on_error=False`` raises ``argparse.ArgumentError`` to the caller: the error raised
is a masked copy that chains nothing.

**run(main, ...)** parses, initializes the framework with :func:`init_framework_cli` (WARNING level, no
stateful directory, no ``chdir``), calls ``main`` and exits: 0 (or the int ``main`` returns), 2 with one line on
stderr for a framework configuration or plugin error (``SettingsError``, ``RequiredVariableError``, a bad value, a
configuration file, a plugin that cannot start...; ``--debug`` or ``SAF_DEBUG=true`` prints the traceback), 1 with
the traceback for any other error, 130 without a traceback for Ctrl-C.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import os
import sys
import traceback
import weakref
from enum import Enum
from typing import Any, Callable, Iterable, Optional, Sequence

from .api.variables import Variables
from .exceptions import SAFError

#: environment-variable prefixes and names that belong to the framework, not to the app
FRAMEWORK_PREFIXES: tuple[str, ...] = ('SAF_', 'LOGGING_', 'PYROSCOPE_')
FRAMEWORK_NAMES: frozenset[str] = frozenset((
    'APP_NAME', 'BUILD_IMAGE_NAME', 'BUILD_CONTAINER_VERSION', 'STATEFUL_ROOT', 'RUN_ID', 'RUN_SERIAL',
    'DATA_WORKING_PATH'))

_DEST = 'saf-option:'  # the dest prefix of our options: never a Python name, so never an app's dest


def is_framework_variable(name: str) -> bool:
    """True for a variable the framework itself reads (``SAF_*``, ``LOGGING_*``, ``PYROSCOPE_*``, ``APP_NAME``,
    ``STATEFUL_ROOT``, ``RUN_ID``, ...): ``saf config`` shows them apart, and they get no command-line option."""
    up = str(name).upper()
    return up.startswith(FRAMEWORK_PREFIXES) or up in FRAMEWORK_NAMES


class CommandLineError(SAFError, ValueError):
    """The options cannot be built (two variables, or the app's parser, want an option that cannot be shared)."""


class _Kind(Enum):
    """What an option takes: a switch (``--x``/``--no-x``), a number, or text (converted by the variable)."""

    BOOL = 'bool'
    INT = 'int'
    FLOAT = 'float'
    TEXT = 'text'


class _Option:
    __slots__ = ('variable', 'flag', 'kind', 'help', 'metavar', 'secret')

    def __init__(self, variable: str, flag: str, kind: _Kind, help: str, metavar: Optional[str],
                 secret: bool) -> None:
        self.variable, self.flag, self.kind, self.help, self.metavar, self.secret = (
            variable, flag, kind, help, metavar, secret)


class SettingsOptions:
    """The options :func:`add_settings_options` added: ``flags`` maps each variable to its option."""

    def __init__(self, parser: argparse.ArgumentParser, options: list[_Option]) -> None:
        self.parser = parser
        self._options = options
        self.flags: dict[str, str] = {o.variable: o.flag for o in options}

    def values(self, namespace: argparse.Namespace, remove: bool = True) -> dict[str, Any]:
        """The variables given on the command line, ``{VARIABLE: value}`` (options not given are left out).
        ``remove``: take our entries out of ``namespace``, leaving the app's own fields."""
        out: dict[str, Any] = {}
        for o in self._options:
            dest = _DEST + o.variable
            if hasattr(namespace, dest):
                val = getattr(namespace, dest)
                if remove:
                    delattr(namespace, dest)
                if val is not None:
                    out[o.variable] = val
        return out

    def apply(self, namespace: argparse.Namespace, v: Variables) -> dict[str, Any]:
        """Put the given options in ``v``'s command-line layer (each one's provenance names its option); return
        them. The layer is added even when empty, so that error messages name the options."""
        values = self.values(namespace)
        v.add_cli_source(argparse.Namespace(**values), flags=self.flags)
        return values

    def __repr__(self) -> str:
        return f'<SettingsOptions {", ".join(o.flag for o in self._options)}>'


class _Row:
    """A variable that gets an option: its name, its preferred (short) option name and its described row
    (``Settings.describe()`` or ``describe_variables``)."""

    __slots__ = ('variable', 'short', 'row')

    def __init__(self, variable: str, short: str, row: dict[str, Any]) -> None:
        self.variable, self.short, self.row = variable, short, row


def _rows(declared: Iterable[Any]) -> list[_Row]:
    """A row for every settings field and declared variable."""
    from .core.util import describe_variables
    from .settings import Settings

    rows: list[_Row] = []
    for item in declared:
        if isinstance(item, type) and issubclass(item, Settings):
            for r in item.describe():
                rows.append(_Row(r['variable'], r['field'].replace('.', '-').replace('_', '-').lower(), r))
        elif isinstance(item, Settings):
            raise TypeError(f'add_settings_options takes settings classes, not a loaded object: give '
                            f'{type(item).__qualname__} itself')
        elif isinstance(item, Variables):
            for r in describe_variables(item):
                rows.append(_Row(r['env'], r['env'].replace('_', '-').lower(), r))
        else:
            raise TypeError(f'add_settings_options takes Settings classes and Variables, got {type(item).__name__}')
    return rows


#: each parser's options that hold secrets: their values are masked in usage errors
_SECRET_FLAGS: weakref.WeakKeyDictionary[argparse.ArgumentParser, set[str]] = weakref.WeakKeyDictionary()


class _SecretNumber:
    """argparse's ``type`` for a secret int or float option: its error does not quote the value."""

    def __init__(self, convert: Callable[[str], Any]) -> None:
        self.convert = convert
        self.__name__ = convert.__name__

    def __call__(self, text: str) -> Any:
        try:
            return self.convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'invalid {self.__name__} value (the value of a secret is not shown)') from None


_BOOL_TYPES = ('bool', 'ext_parse_bool', 'parse_bool')
_METAVARS = {'int': 'INT', 'float': 'FLOAT', 'str': 'TEXT', 'Path': 'PATH', 'timedelta': 'SECONDS'}


def _kind(type_name: str) -> tuple[_Kind, Optional[str]]:
    """(the option's kind, metavar) from a described type name."""
    t = type_name
    for wrap in ('Optional[', 'Secret['):
        while t.startswith(wrap) and t.endswith(']'):
            t = t[len(wrap):-1]
    if t in _BOOL_TYPES:
        return _Kind.BOOL, None
    if t in ('int', 'float'):
        return _Kind(t), _METAVARS[t]
    base = t.split('[', 1)[0]
    return _Kind.TEXT, _METAVARS.get(base) or ('A,B,...' if base in ('list', 'tuple', 'set', 'frozenset')
                                           else 'JSON' if base == 'dict' else 'VALUE')


def _help(row: dict[str, Any], variable: str) -> str:
    parts = []
    if row.get('required'):
        parts.append('required')
    elif row.get('secret'):
        parts.append('secret')
    elif row.get('default') is not None:
        d = row['default']
        parts.append(f'default: {d!r}' if isinstance(d, str) and (d.strip() != d or not d) else f'default: {d}')
    parts.append(f'env {variable}')
    text = str(row.get('help') or '').strip()
    return (f'{text} ({"; ".join(parts)})' if text else f'({"; ".join(parts)})').replace('%', '%%')


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in dict.fromkeys(action.choices.values()):  # (aliases map to the same parser)
                out.append(sp)
                out.extend(_subparsers(sp))
    return out


def _has_option(parser: argparse.ArgumentParser, flag: str) -> bool:
    return flag in parser._option_string_actions


def add_settings_options(parser: argparse.ArgumentParser, *declared: Any, title: str = 'settings',
                         sub_commands: bool = True) -> SettingsOptions:
    """Add one option per field of each settings class and per declared variable of each ``Variables`` in
    ``declared`` to ``parser``, in an argument group named ``title`` (and to each sub-command's parser, unless
    ``sub_commands=False``); return what was added (see the module docstring for the rules).

    Raises:
        CommandLineError: an option that neither the short nor the full name can give (the app's parser has both).
        TypeError: ``declared`` holds something that is neither a settings class nor a ``Variables``.
    """
    seen: set[str] = set()
    unique: list[_Row] = []
    for r in _rows(declared):
        if r.variable in seen or is_framework_variable(r.variable):
            continue
        seen.add(r.variable)
        unique.append(r)
    wanted: dict[str, int] = {}
    for r in unique:
        wanted[r.short] = wanted.get(r.short, 0) + 1
    parsers = [parser] + (_subparsers(parser) if sub_commands else [])
    options: list[_Option] = []
    taken: set[str] = set()
    for r in unique:
        full = r.variable.replace('_', '-').lower()
        candidates = [f'--{r.short}', f'--{full}'] if wanted[r.short] == 1 else [f'--{full}']
        is_bool = r.row.get('type') in _BOOL_TYPES
        flag = next((c for c in candidates if c not in taken and not any(_has_option(p, c) for p in parsers)
                     and not (is_bool and any(_has_option(p, '--no-' + c[2:]) for p in parsers))), None)
        if flag is None:
            raise CommandLineError(f'cannot add an option for {r.variable}: the parser of {parser.prog!r} already '
                                   f'has {" and ".join(candidates)}; rename the app\'s option or the setting')
        taken.add(flag)
        kind, metavar = _kind(str(r.row.get('type') or 'str'))
        options.append(_Option(r.variable, flag, kind, _help(r.row, r.variable), metavar, bool(r.row.get('secret'))))
    for i, p in enumerate(parsers):
        group = p.add_argument_group(title, 'these options override the environment variables named'
                                     if i == 0 else None)
        for o in options:
            kw: dict[str, Any] = {'dest': _DEST + o.variable, 'help': o.help,
                                  'default': argparse.SUPPRESS}
            if o.kind is _Kind.BOOL:
                kw['action'] = argparse.BooleanOptionalAction
            else:
                kw['metavar'] = o.metavar
                if o.kind is not _Kind.TEXT:
                    kw['type'] = int if o.kind is _Kind.INT else float
                    if o.secret:
                        kw['type'] = _SecretNumber(kw['type'])
            group.add_argument(o.flag, **kw)
        _SECRET_FLAGS.setdefault(p, set()).update(o.flag for o in options if o.secret)
    return SettingsOptions(parser, options)


def settings_parser(prog: Optional[str], *declared: Any, description: Optional[str] = None) -> tuple[
        argparse.ArgumentParser, SettingsOptions]:
    """A new ``ArgumentParser`` holding only the settings options (for a tool with no arguments of its own)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    return parser, add_settings_options(parser, *declared)


def _all_options(parser: argparse.ArgumentParser) -> list[str]:
    out = list(parser._option_string_actions)
    for sp in _subparsers(parser):
        out.extend(sp._option_string_actions)
    return [o for o in dict.fromkeys(out) if o.startswith('--')]


def parse_strict(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, except that unknown arguments are reported on one line with a did-you-mean
    (``prog: error: unrecognized arguments: --bogus (did you mean --repeat?)``) and exit code 2. ``--help``
    and argparse's other errors behave as usual, their messages masked (a secret option's value is never quoted).

    Raises:
        argparse.ArgumentError: only from a parser made with ``exit_on_error=False``: a masked copy of argparse's
            error (same ``argument_name``; nothing chained).
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    known = _all_options(parser)
    unknown = []
    for a in args:  # first the options no parser knows (else argparse takes the value after one for a positional)
        if a == '--':
            break
        if a.startswith('--') and len(a) > 2:
            name = a.split('=', 1)[0]
            if name not in known and not (parser.allow_abbrev and any(k.startswith(name) for k in known)):
                unknown.append(a)
    if unknown:
        _unrecognized(parser, unknown, known)
    parsers = [parser] + _subparsers(parser)
    for p in parsers:  # argparse's own errors ('ambiguous option: --api=VALUE could match ...') masked too
        p.error = _masking_error(p, parser, args)  # type: ignore[method-assign,assignment]
    raised: Optional[argparse.ArgumentError] = None
    try:
        ns, extras = parser.parse_known_args(args)
    except argparse.ArgumentError as e:  # a parser made with exit_on_error=False raises it to the caller
        raised = _masked_argument_error(e, parser, args)
    finally:
        for p in parsers:
            p.__dict__.pop('error', None)
    if raised is not None:
        raise raised  # (raised here, not inside the except: it chains nothing that quotes a value)
    if extras:
        _unrecognized(parser, extras, known)
    return ns


def _secret_flags(parser: argparse.ArgumentParser) -> set[str]:
    out = set(_SECRET_FLAGS.get(parser, ()))
    for sp in _subparsers(parser):
        out |= _SECRET_FLAGS.get(sp, set())
    return out


def _mask_args(text: str, parser: argparse.ArgumentParser, args: Sequence[str]) -> str:
    """``text`` (a usage error) with the value of every ``--name=value`` or ``--name value`` in ``args`` masked
    where ``name`` may mean a secret option (an abbreviation or misspelling of one, or a secret-looking name), and
    known secret values and secret-named pairs masked (``util.secrets.mask_text``)."""
    from .util.secrets import MASK, add_secret_values, is_secret_key, mask_text

    secret = _secret_flags(parser)
    known = _all_options(parser)

    def secret_option(name: str) -> bool:
        return (is_secret_key(name[2:]) or any(f.startswith(name) for f in secret)
                or bool(set(difflib.get_close_matches(name, known, n=1, cutoff=0.6)) & secret))

    values: list[str] = []
    for i, a in enumerate(args):
        if a == '--':
            break
        name, eq, value = a.partition('=')
        if not name.startswith('--') or len(name) < 3 or not secret_option(name):
            continue
        if eq:
            if value and a in text:
                text = text.replace(a, f'{name}={MASK}')
            values.append(value)
        elif i + 1 < len(args) and not args[i + 1].startswith('--'):
            values.append(args[i + 1])  # --pin VALUE: argparse quotes it as 'VALUE'
    add_secret_values(values)  # (from 6 characters on: masked wherever they appear, now and later)
    for value in values:
        if value and repr(value) in text:
            text = text.replace(repr(value), repr(MASK))
    return mask_text(text)


def _masked_argument_error(e: argparse.ArgumentError, parser: argparse.ArgumentParser,
                           args: Sequence[str]) -> argparse.ArgumentError:
    """A copy of argparse's ``ArgumentError`` with the message masked and nothing chained (its context, the type
    function's ``ValueError``, quotes the value)."""
    masked = argparse.ArgumentError(None, _mask_args(e.message, parser, args))
    masked.argument_name = e.argument_name
    return masked


def _masking_error(p: argparse.ArgumentParser, top: argparse.ArgumentParser,
                   args: Sequence[str]) -> Callable[[str], Any]:
    error = type(p).error

    def masked(message: str) -> Any:
        return error(p, _mask_args(message, top, args))

    return masked


def _unrecognized(parser: argparse.ArgumentParser, extras: list[str], known: list[str]) -> None:
    extras = [_mask_args(a, parser, [a]) for a in extras]
    hints: list[str] = []
    elsewhere: list[str] = []
    for a in extras:
        if a.startswith('--') and len(a) > 2:
            name = a.split('=', 1)[0]
            if name in known:  # an option of another parser (the sub-command's, or the main one's)
                elsewhere.append(name)
                continue
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if close and close[0] not in hints:
                hints.append(close[0])
    shown = ' '.join(extras)
    if len(shown) > 200:
        shown = shown[:197] + '...'
    hint = f' (did you mean {" or ".join(hints)}?)' if hints else ''
    if elsewhere:
        hint += f' ({", ".join(dict.fromkeys(elsewhere))}: not an option here; give it on the other side of the ' \
                f'sub-command)'
    sys.stderr.write(f'{parser.prog}: error: unrecognized arguments: {shown}{hint}; see {parser.prog} --help\n')
    raise SystemExit(2)


def _startup_errors() -> tuple[type[BaseException], ...]:
    from .api.variables import TypeFunctionError, VariableTypeError
    from .core.core import StatefulDirError
    from .core.plugins import PluginError
    from .core.util import SecretsDirError
    from .exceptions import ConfigurationError
    from .util.config_files import ConfigFileError
    return (ConfigurationError, VariableTypeError, TypeFunctionError, ConfigFileError, PluginError,
            StatefulDirError, SecretsDirError, CommandLineError)


def one_line(error: BaseException) -> str:
    """An error's message on one line, secrets masked: ``SettingsError``'s problems joined with ``; ``."""
    from .util.secrets import mask_text
    lines = [ln.strip() for ln in mask_text(str(error)).splitlines() if ln.strip()]
    text = ''
    for ln in lines:
        text += ln if not text else (' ' + ln if text.endswith(':') else '; ' + ln)
    return text or type(error).__name__


def _call_main(main: Callable[..., Any], args: argparse.Namespace, v: Variables) -> Any:
    try:
        params = list(inspect.signature(main).parameters.values())
    except (TypeError, ValueError):
        params = []
    n = 2 if any(p.kind is p.VAR_POSITIONAL for p in params) else sum(
        1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    result = main(*(args, v)[:min(n, 2)])
    if inspect.iscoroutine(result):
        import asyncio
        result = asyncio.run(result)
    return result


def _debug_wanted(args: Optional[argparse.Namespace]) -> bool:
    from .util.parsing import ext_parse_bool
    if args is not None and (getattr(args, _DEST + 'debug', False) is True or getattr(args, 'debug', None) is True):
        return True  # our --debug, or the app's own
    try:
        return bool(ext_parse_bool(os.environ.get('SAF_DEBUG', '') or False))
    except (TypeError, ValueError):
        return False


def run(main: Callable[..., Any], name: Optional[str] = None, *, parser: Optional[argparse.ArgumentParser] = None,
        settings: Iterable[Any] = (), v: Optional[Variables] = None, argv: Optional[Sequence[str]] = None,
        init: Optional[Callable[..., Variables]] = None, exit: bool = True, **init_kwargs: Any) -> int:
    """Run a command-line tool: parse, initialize the framework, call ``main``, exit with its code.

    Args:
        main: the tool. Called as ``main(args, v)``, ``main(args)`` or ``main()`` (as many positional parameters
            as it takes): ``args`` is the app's ``Namespace`` (without the settings options), ``v`` the
            initialized ``Variables``. An int it returns is the exit code (None: 0); a coroutine is run with
            ``asyncio.run``.
        name: the app name for ``init_framework`` (default: the parser's ``prog``).
        parser: the app's ``ArgumentParser`` (sub-commands, positionals...); the settings options and ``--debug``
            are added to it. None: a parser with only those.
        settings: ``Settings`` classes (and ``Variables`` holding declared variables) to build options from.
        v: the ``Variables`` to initialize (default: a new one). Variables declared in it before the call get
            options too.
        argv: the arguments (default ``sys.argv[1:]``).
        init: the initialization function (default :func:`init_framework_cli`); ``init_kwargs`` are passed on.
        exit: raise ``SystemExit`` with the code (default); False: return it (the shutdown phases then run at
            interpreter exit, as usual).

    Exit codes: 0 (or main's int), 1 any other error (traceback printed), 2 a usage error or a framework
    configuration or plugin error (one line; ``--debug`` / ``SAF_DEBUG=true`` adds the traceback), 130 Ctrl-C.
    """
    from .core.core import init_framework_cli
    from .core.shutdown import ShutdownRequested

    args: Optional[argparse.Namespace] = None
    prog = name
    try:
        try:
            if parser is None:
                parser = argparse.ArgumentParser(prog=name)
            prog = prog or parser.prog
            v = v if v is not None else Variables()
            declared = list(settings)
            if v.declared() or v.registered_keys():
                declared.append(v)
            options = add_settings_options(parser, *declared)
            for i, p in enumerate([parser] + _subparsers(parser)):  # (before or after the sub-command)
                if not _has_option(p, '--debug'):
                    p.add_argument('--debug', action='store_true', dest=_DEST + 'debug',
                                   default=False if i == 0 else argparse.SUPPRESS,
                                   help='show the traceback of a configuration or plugin error')
            args = parse_strict(parser, argv)
            options.apply(args, v)
            v = (init or init_framework_cli)(str(prog), v=v, **init_kwargs)
            clean = argparse.Namespace(**{k: val for k, val in vars(args).items() if not k.startswith(_DEST)})
            result = _call_main(main, clean, v)
            code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        except ShutdownRequested as e:  # SIGTERM / Ctrl-C while the framework's handlers are installed
            code = e.code if isinstance(e.code, int) else 1
        except KeyboardInterrupt:
            code = 130
        except _startup_errors() as e:
            if _debug_wanted(args):
                traceback.print_exc()
            sys.stderr.write(f'{prog or "error"}: error: {one_line(e)}'
                             f'{"" if _debug_wanted(args) else " (--debug for the traceback)"}\n')
            code = 2
        except SystemExit:
            raise
        except Exception:
            traceback.print_exc()
            code = 1
    except KeyboardInterrupt:  # a second Ctrl-C while reporting
        code = 130
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    if exit:
        raise SystemExit(code)
    return code


__all__ = ['run', 'add_settings_options', 'settings_parser', 'parse_strict', 'SettingsOptions',
           'is_framework_variable', 'one_line', 'CommandLineError', 'FRAMEWORK_PREFIXES', 'FRAMEWORK_NAMES']
