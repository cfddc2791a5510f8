"""``init_framework`` and its variants: configuration, logging, stateful directory, shutdown hooks, plugins.

The composition root: :func:`init_framework` runs named steps over one :class:`InitOptions` and switches on the
plugin sets (base plugins, Pyroscope, tenants, OpenTelemetry) its keywords name, so this module (with
:mod:`.observability`) sits above the plugins in the layers (docs/architecture.md, "Layers"). What it sets up lives
in core: the stateful directory in :mod:`._stateful`, :func:`load_strategy` / :func:`load_object` in
:mod:`._strategy`, :func:`get_app_params` / :func:`log_framework_variables` in :mod:`._app_info`. This module
re-exports them: its import path is the original's.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

from .._exports import Exports
from ..api.variables import Variables
from ..util.imports import ext_get_python, get_python_type_by_name  # noqa: F401 - names the original's module had
from ..util.misc import now_ms  # noqa: F401 - a name the original's module had
from ..util.parsing import parse_bool_strict, parse_seconds
from ..util.secrets import add_secret_patterns, add_secret_values, bounded_repr, is_secret_key
from . import _stdlib
from ._app_info import get_app_params, log_framework_variables
from ._stateful import (
    StatefulDirError,
    get_stateful_path,
    get_working_path,
    is_stateful_ready,
    original_working_directory,
    restore_working_directory,
    setup_stateful_dir,
)
from ._strategy import load_object, load_strategy
from .context import RUNNING, STARTING, AppContext, get_app_context
from .defaults import get_variables, set_default_variables
from .logs import configure_logging, get_logger, parse_level, set_app_logger  # noqa: F401 - get_logger: the original's path
from .plugins import init_all_plugins, register_plugin
from .shutdown import get_shutdown_manager, register_shutdown_function  # noqa: F401 - the original's path


@dataclass(frozen=True)
class InitOptions:
    """The keywords of :func:`init_framework`, resolved once; each step reads what it needs (the environment
    variables that override them are read by the steps, through the app's ``Variables``)."""

    base_app_name: str
    fixed_logger: Union[logging.Logger, str, None] = None
    log_format: Optional[str] = None
    log_level: Union[str, int] = 'INFO'
    shutdown_hooks: bool = True
    shutdown_hooks_via_atexit: bool = True
    stateful: bool = True
    stateful_chdir: bool = True
    default_stateful_root: str = './scratch'
    default_run_id: Optional[str] = None
    default_serial_strategy: Union[str, Callable[[], Any], None] = None
    fault_handler: bool = True
    sep: str = '-'
    unnamed_params: frozenset[str] = frozenset()
    base_plugins: bool = False
    pyroscope: bool = False
    multitenant: bool = False
    entry_points: bool = False
    async_auto_enabled: Optional[bool] = None
    stateful_root_env_key: str = 'STATEFUL_ROOT'
    params: tuple[tuple[str, Any], ...] = ()
    otel: bool = False
    metrics: bool = False


@dataclass(frozen=True)
class _Identity:
    name: str
    image: str
    version: str
    params: dict[str, Any]


def init_framework(base_app_name: str, fixed_logger: Union[logging.Logger, str, None] = None,
                   log_format: Optional[str] = None, log_level: Union[str, int] = 'INFO', shutdown_hooks: bool = True,
                   shutdown_hooks_via_atexit: bool = True, stateful: bool = True, stateful_chdir: bool = True,
                   default_stateful_root: str = './scratch', default_run_id: Optional[str] = None,
                   default_serial_strategy: Union[str, Callable[[], Any], None] = None, fault_handler: bool = True,
                   sep: str = '-', unnamed_params: Iterable[str] = (), v: Optional[Variables] = None,
                   base_plugins: bool = False, pyroscope: bool = False, multitenant: bool = False,
                   entry_points: bool = False, async_auto_enabled: Optional[bool] = None,
                   stateful_root_env_key: str = 'STATEFUL_ROOT', cli_args: Any = None,
                   otel: bool = False, metrics: bool = False,
                   **params: Any) -> Variables:
    """Initialize the framework for an app and return its :class:`Variables` (also made the default).

    ``params`` are app parameters: each may be overridden by the environment variable of its upper-cased
    name; unless listed in ``unnamed_params`` (or secret-named, like ``api_token``: never part of the name, its
    value masked) their values are appended to the app name with ``sep``; they are static fields of JSON log lines
    and Pyroscope tags. ``APP_NAME`` overrides the computed name.
    Every keyword has an environment variable that overrides it (see the README's table).
    ``async_auto_enabled`` (``SAF_ASYNC_AUTO_MODE``, default True) switches automatic async mode;
    ``stateful_root_env_key`` names the variable that holds the stateful root. ``cli_args`` (an
    ``argparse.Namespace`` or ``--key=value`` strings) become the command-line layer, above the environment.
    ``SAF_CONFIG_FILES`` (``os.pathsep``- or comma-separated; ``name?`` optional) and ``SAF_SECRETS_DIR`` add
    file and secrets sources first thing. ``otel`` (``SAF_OTEL_ENABLED``) registers the OpenTelemetry plugin and
    ``metrics`` (``SAF_METRICS_ENABLED``) switches the Prometheus metrics on (see the README's "Observability").

    Calling it again on a ``Variables`` it already initialized returns that instance unchanged.
    Readiness (:func:`~scitrera_app_framework.core.health.is_ready`) turns true when it returns.

    The steps, in order: command line and configuration sources, secrets policy, app identity, logging, fault
    handler, stateful directory, lifecycle (async mode, shutdown), plugins, probe endpoint, ready.

    Raises:
        VariableTypeError: an environment value cannot be parsed (names the variable).
        StatefulDirError: the stateful directory cannot be created.
    """
    v = get_variables(v)
    ctx = get_app_context(v)
    if ctx.initialized:
        set_default_variables(v)
        return v
    opts = InitOptions(
        base_app_name=base_app_name, fixed_logger=fixed_logger, log_format=log_format, log_level=log_level,
        shutdown_hooks=shutdown_hooks, shutdown_hooks_via_atexit=shutdown_hooks_via_atexit, stateful=stateful,
        stateful_chdir=stateful_chdir, default_stateful_root=default_stateful_root, default_run_id=default_run_id,
        default_serial_strategy=default_serial_strategy, fault_handler=fault_handler, sep=sep,
        unnamed_params=frozenset(unnamed_params), base_plugins=base_plugins, pyroscope=pyroscope,
        multitenant=multitenant, entry_points=entry_points, async_auto_enabled=async_auto_enabled,
        stateful_root_env_key=stateful_root_env_key, params=tuple(params.items()), otel=otel, metrics=metrics)
    ctx.state = STARTING
    set_default_variables(v)
    _step_sources(v, cli_args)
    _step_secrets(v)
    app = _step_identity(v, ctx, opts)
    logger, bad_level = _step_logging(v, opts, app)
    logger.info('starting app=%s image=%s version=%s', app.name, app.image, app.version)  # the first line
    if bad_level is not None:
        logger.warning('LOGGING_LEVEL=%s is not a logging level (use DEBUG, INFO, WARNING, ERROR, CRITICAL or a '
                       'number from 0 to 50); using %s', bounded_repr(bad_level, 100),
                       logging.getLevelName(logging.getLogger().level))
    _step_fault_handler(v, opts, logger)
    _step_stateful(v, opts, app, logger)
    _step_lifecycle(v, ctx, opts)
    _step_plugins(v, opts)
    _start_health_endpoint(v, logger)
    _step_ready(v, ctx, logger)
    return v


def _step_sources(v: Variables, cli_args: Any) -> None:
    """The command-line layer, then ``SAF_CONFIG_FILES`` and ``SAF_SECRETS_DIR`` (they may set anything after)."""
    if cli_args is not None:
        v.add_cli_source(cli_args)
    from .util import add_config_files_from
    add_config_files_from(v)


def _step_secrets(v: Variables) -> None:
    """``SAF_SECRET_KEYS``: extra secret-name patterns, in force before anything is printed; then the values of
    the secret-named environment variables become known secret values (masked in every text printed), except the
    shell's ``PWD``/``OLDPWD`` (the working directory, not a password)."""
    secret_keys = v.environ('SAF_SECRET_KEYS', default='')
    if secret_keys:
        add_secret_patterns(str(secret_keys))
    add_secret_values(val for name, val in os.environ.items() if is_secret_key(name) and name not in _SHELL_VARS)


#: environment variables the shell sets whose names look secret but are not (PWD is the working directory: as a
#: known secret value it masked every path under it, tracebacks included)
_SHELL_VARS = frozenset(('PWD', 'OLDPWD'))


def _step_identity(v: Variables, ctx: AppContext, opts: InitOptions) -> _Identity:
    """The app name (``APP_NAME`` or base name plus parameters), image, version and resolved parameters."""
    v.set('SAF_BASE_APP_NAME', opts.base_app_name)
    resolved = {key: v.environ(key, default=default) for key, default in opts.params}
    # a secret-named parameter (api_token=...) never becomes part of the name (it would be in every log line);
    # its value is a known secret value from now on
    secret = {key for key in resolved if is_secret_key(key)}
    add_secret_values(str(resolved[key]) for key in secret if resolved[key] not in (None, ''))
    name_parts = [str(opts.base_app_name)] + [str(val) for key, val in resolved.items()
                                              if key not in opts.unnamed_params and key not in secret
                                              and val not in (None, '')]
    app_name = str(v.environ('APP_NAME', default=opts.sep.join(name_parts)))
    ctx.params = resolved
    ctx.app_name = app_name
    return _Identity(app_name, str(v.environ('BUILD_IMAGE_NAME', default=opts.base_app_name)),
                     str(v.environ('BUILD_CONTAINER_VERSION', default='DEV')), resolved)


def _step_logging(v: Variables, opts: InitOptions, app: _Identity) -> tuple[logging.Logger, Any]:
    """The framework handler (unless ``fixed_logger``) and the app logger; returns it and an invalid
    ``LOGGING_LEVEL`` value (None when valid), which init_framework reports after its first line."""
    bad_level = None
    if opts.fixed_logger is not None:
        fixed = opts.fixed_logger
        logger = fixed if isinstance(fixed, logging.Logger) else logging.getLogger(str(fixed))
    else:
        level_raw = v.environ('LOGGING_LEVEL', default=opts.log_level)
        level = parse_level(level_raw)
        if level is None:
            bad_level = level_raw
            level = parse_level(opts.log_level)
            if level is None:
                level = logging.INFO
        static = {'app': app.name, 'image': app.image, 'version': app.version}
        static.update({k: val for k, val in app.params.items() if k not in static})
        configure_logging(level, v.environ('LOGGING_FORMAT', default=opts.log_format),
                          v.environ('LOGGING_DATE_FORMAT', default=None), static,
                          redact=bool(v.environ('SAF_LOG_REDACT', default=True, type_fn=parse_bool_strict)),
                          lean_records=bool(v.environ('SAF_LOG_LEAN_RECORDS', default=True, type_fn=parse_bool_strict)))
        logger = logging.getLogger(app.name)
    set_app_logger(v, logger)
    return logger, bad_level


def _step_fault_handler(v: Variables, opts: InitOptions, logger: logging.Logger) -> None:
    if v.environ('SAF_ENABLE_PYTHON_FAULT_HANDLER', default=opts.fault_handler, type_fn=parse_bool_strict):
        _enable_fault_handler(logger)


def _step_stateful(v: Variables, opts: InitOptions, app: _Identity, logger: logging.Logger) -> None:
    if v.environ('SAF_SETUP_STATEFUL', default=opts.stateful, type_fn=parse_bool_strict):
        setup_stateful_dir(v, app.name, opts.default_stateful_root, opts.default_run_id,
                           opts.default_serial_strategy, opts.stateful_chdir, logger, opts.stateful_root_env_key)


def _step_lifecycle(v: Variables, ctx: AppContext, opts: InitOptions) -> None:
    """Async mode, the registry's debug lines, and the shutdown (settings, signal handlers, exit hooks)."""
    auto_default = True if opts.async_auto_enabled is None else opts.async_auto_enabled
    ctx.async_auto = bool(v.environ('SAF_ASYNC_AUTO_MODE', default=auto_default, type_fn=parse_bool_strict))
    ctx.debug_plugins = bool(v.environ('SAF_DEBUG_PLUGINS', default=False, type_fn=parse_bool_strict))
    if ctx.debug_plugins:  # the registry's lines are DEBUG records of 'saf.plugins': let them through
        logging.getLogger('saf.plugins').setLevel(logging.DEBUG)
    _note_main_task(ctx)
    manager = get_shutdown_manager()
    manager.add_app(v)
    if v.environ('SAF_INSTALL_SHUTDOWN_HOOKS', default=opts.shutdown_hooks, type_fn=parse_bool_strict):
        via_atexit = v.environ('SAF_SHUTDOWN_HOOK_VIA_ATEXIT', default=opts.shutdown_hooks_via_atexit,
                               type_fn=parse_bool_strict)
        manager.timeout = v.environ('SAF_SHUTDOWN_TIMEOUT', default=None, type_fn=_parse_timeout)
        manager.drain = v.environ('SAF_SHUTDOWN_DRAIN_SECONDS', default=0.0, type_fn=_parse_drain)
        manager.sigterm_code = v.environ('SAF_SHUTDOWN_EXIT_CODE', default=0, type_fn=_parse_exit_code)
        manager.install(via_atexit=bool(via_atexit))


def _step_plugins(v: Variables, opts: InitOptions) -> None:
    """Register the switched-on plugin sets, then initialize every eager plugin."""
    from .observability import start_observability
    start_observability(v, otel=opts.otel, metrics=opts.metrics)
    if v.environ('SAF_BASE_PLUGINS', default=opts.base_plugins, type_fn=parse_bool_strict):
        from .. import base_plugins as _bp
        from ..base_plugins import register_package_plugins
        register_package_plugins(_bp, v)
    if v.environ('PYROSCOPE_ENABLED', default=opts.pyroscope, type_fn=parse_bool_strict):
        from ..ext_plugins.pyroscope_plugin import PyroscopePlugin
        register_plugin(PyroscopePlugin, v)
    if v.environ('SAF_MULTITENANT_ENABLED', default=opts.multitenant, type_fn=parse_bool_strict):
        from ..ext_plugins.multi_tenant import MultiTenantPlugin
        register_plugin(MultiTenantPlugin, v)
    if v.environ('SAF_ENTRY_POINT_PLUGINS', default=opts.entry_points, type_fn=parse_bool_strict):
        from .plugins import register_entry_point_plugins
        register_entry_point_plugins(v)
    init_all_plugins(v)


def _step_ready(v: Variables, ctx: AppContext, logger: logging.Logger) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        log_framework_variables(v, logger=logger, level=logging.DEBUG)
    ctx.initialized = True
    if ctx.state == STARTING:  # (a signal during start-up has already marked it stopping)
        ctx.state = RUNNING


def _start_health_endpoint(v: Variables, logger: logging.Logger) -> None:
    if v.environ('SAF_HEALTH_PORT', default=None) in (None, ''):
        return
    from .health import start_health_server_from_env
    start_health_server_from_env(v, logger)


def _note_main_task(ctx: AppContext) -> None:
    """Inside a running asyncio loop on the main thread: remember the task that is initializing the app (the
    app's main task, cancelled first on SIGTERM)."""
    if threading.current_thread() is not threading.main_thread() or _stdlib.running_loop() is None:
        return
    import asyncio
    task = asyncio.current_task()
    if task is not None and ctx.main_task is None:
        ctx.main_task = task


def _parse_timeout(value: Any) -> Optional[float]:
    """``SAF_SHUTDOWN_TIMEOUT``: seconds > 0, or empty/None/0 for no bound."""
    if value in (None, ''):
        return None
    t = parse_seconds(value, 'SAF_SHUTDOWN_TIMEOUT', zero_ok=True, maximum=_MAX_SECONDS,
                      hint='the most seconds the whole exit may take, e.g. 25')
    return t if t > 0 else None


def _parse_drain(value: Any) -> float:
    """``SAF_SHUTDOWN_DRAIN_SECONDS``: seconds >= 0."""
    if value in (None, ''):
        return 0.0
    return parse_seconds(value, 'SAF_SHUTDOWN_DRAIN_SECONDS', zero_ok=True, maximum=_MAX_SECONDS,
                         hint='seconds to stay up, not ready, before stopping, e.g. 5')


_MAX_SECONDS = 1_000_000  # about 11 days: beyond it a shutdown setting is a mistake


def _parse_exit_code(value: Any) -> int:
    """``SAF_SHUTDOWN_EXIT_CODE``: the exit code after SIGTERM, 0..255."""
    try:
        code = int(str(value).strip())
    except (TypeError, ValueError):
        code = -1
    if not 0 <= code <= 255:
        raise ValueError(f'SAF_SHUTDOWN_EXIT_CODE={str(value)[:100]!r} is not an exit code; use an integer from 0 '
                         f'to 255 (e.g. 143 so that a stopped Kubernetes Job does not look succeeded)')
    return code


def _enable_fault_handler(logger: logging.Logger) -> None:
    import faulthandler
    import sys
    try:
        faulthandler.enable(file=sys.__stderr__ or sys.stderr)
    except (AttributeError, ValueError, OSError, RuntimeError) as e:  # no usable file descriptor
        logger.debug('fault handler not enabled: %s', e)


def _variant(overrides: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    for k, val in overrides.items():
        kwargs.setdefault(k, val)
    return kwargs


def init_framework_desktop(base_app_name: str, **kwargs: Any) -> Variables:
    """``init_framework`` for desktop apps: state in ``~/.config/<APP_NAME>`` (created), no chdir, atexit
    hooks, base plugins on. Keywords override these defaults."""
    kwargs = _variant({'stateful_chdir': False, 'shutdown_hooks_via_atexit': True, 'base_plugins': True,
                       'default_stateful_root': os.path.join('~', '.config')}, kwargs)
    root = os.path.expanduser(str(kwargs['default_stateful_root']))
    root_key = str(kwargs.get('stateful_root_env_key') or 'STATEFUL_ROOT')
    if not os.environ.get(root_key):
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as e:
            raise StatefulDirError(f'cannot create the desktop state root {root!r}: {e}; set {root_key} to a '
                                   f'writable directory') from e
    kwargs['default_stateful_root'] = root
    return init_framework(base_app_name, **kwargs)


def init_framework_test_harness(base_app_name: str = 'test-harness', **kwargs: Any) -> Variables:
    """``init_framework`` for tests: DEBUG, no fault handler, no shutdown hooks, no stateful dir, no pyroscope."""
    kwargs = _variant({'log_level': 'DEBUG', 'fault_handler': False, 'shutdown_hooks': False, 'stateful': False},
                      kwargs)
    kwargs['pyroscope'] = False
    return init_framework(base_app_name, **kwargs)


def init_framework_embedded(base_app_name: str, **kwargs: Any) -> Variables:
    """``init_framework`` inside a host app: like the test harness but INFO and the fixed logger ``SAF``, so
    the host's logging configuration is left untouched."""
    kwargs = _variant({'log_level': 'INFO', 'fixed_logger': logging.getLogger('SAF')}, kwargs)
    return init_framework_test_harness(base_app_name, **kwargs)


def init_framework_cli(base_app_name: str, **kwargs: Any) -> Variables:
    """``init_framework`` for command-line tools: WARNING level (``LOGGING_LEVEL`` still wins), so the INFO start
    line and the framework's INFO lines stay off stderr; no stateful directory and never a ``chdir`` (relative
    paths given on the command line keep working; ``SAF_SETUP_STATEFUL=true`` makes one, without changing into
    it); shutdown hooks at exit; Ctrl-C ends the tool with exit code 130 and no traceback. Keywords override these
    defaults. :func:`scitrera_app_framework.cmdline.run` uses it, with a ``--help`` built from the settings."""
    kwargs = _variant({'log_level': 'WARNING', 'stateful': False, 'shutdown_hooks_via_atexit': True}, kwargs)
    kwargs['stateful_chdir'] = False
    return init_framework(base_app_name, **kwargs)


__all__ = ['InitOptions', 'init_framework', 'init_framework_desktop', 'init_framework_test_harness',
           'init_framework_embedded', 'init_framework_cli',
           'is_stateful_ready', 'get_stateful_path', 'get_working_path', 'get_app_params',
           'log_framework_variables', 'load_strategy', 'load_object', 'StatefulDirError', 'restore_working_directory',
           'original_working_directory']

# implementation imports this module had before its split (0.1.0), importable from here until 0.3.0 with a warning
_EXPORTS = Exports(__name__, globals(), moved={
    'NOT_SET': 'scitrera_app_framework.api.constants',
    'SAFError': 'scitrera_app_framework.exceptions',
    'mask_value': 'scitrera_app_framework.util.secrets',
})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
