"""Continuous profiling with Pyroscope: :class:`PyroscopePlugin` configures the ``pyroscope-io`` agent.

Enabled by ``PYROSCOPE_ENABLED`` (or ``init_framework(pyroscope=True)``). Every ``PYROSCOPE_*`` setting is read
from the app's :class:`Variables` and mapped onto the parameters that the installed client's
``pyroscope.configure`` really accepts (read from its signature): a setting the client does not support is
accepted and noted at debug level, never passed through. Without ``pyroscope-io`` installed, the plugin logs one
warning naming the ``pyroscope`` extra and the app starts normally.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from ..api.plugins import Plugin
from ..util.parsing import int_in_range, parse_bool_strict, seconds_at_least
from ..util.secrets import mask_url_credentials, mask_value, redact_mapping

if TYPE_CHECKING:
    from ..api.variables import Variables

EXT_PYROSCOPE = 'pyroscope'
PYROSCOPE_ENABLED = 'PYROSCOPE_ENABLED'
PYROSCOPE_SERVER = 'PYROSCOPE_SERVER'
PYROSCOPE_USER = 'PYROSCOPE_USER'
PYROSCOPE_TOKEN = 'PYROSCOPE_TOKEN'
PYROSCOPE_TENANT = 'PYROSCOPE_TENANT'
PYROSCOPE_SAMPLE_RATE = 'PYROSCOPE_SAMPLE_RATE'
PYROSCOPE_DETECT_SUBPROCESSES = 'PYROSCOPE_DETECT_SUBPROCESSES'
PYROSCOPE_ON_CPU = 'PYROSCOPE_ON_CPU'
PYROSCOPE_GIL_ONLY = 'PYROSCOPE_GIL_ONLY'
PYROSCOPE_ENABLE_LOGGING = 'PYROSCOPE_ENABLE_LOGGING'
PYROSCOPE_SHUTDOWN_TIMEOUT = 'PYROSCOPE_SHUTDOWN_TIMEOUT'
PYROSCOPE_TAG_PREFIX = 'PYROSCOPE_TAG_'

DEFAULT_SERVER = 'http://pyroscope.pyroscope.svc:4040'
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
INSTALL_HINT = "pip install 'scitrera-app-framework[pyroscope]'"

_TAG_NAME_BAD = re.compile(r'[^A-Za-z0-9_.]')


# --- type functions (their errors are wrapped by Variables with the variable name, layer and raw value) ------
def _parse_text(value: Any) -> str:
    return '' if value is None else str(value).strip()


def _parse_server(value: Any) -> str:
    text = _parse_text(value)
    parts = urlsplit(text)
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        raise ValueError(f'expected an http(s) URL of the Pyroscope server, like {DEFAULT_SERVER}')
    return text.rstrip('/')


_parse_sample_rate = int_in_range(1, what='samples per second, e.g. 100')
_parse_timeout = seconds_at_least(0.0, what='0 = wait without limit, e.g. 5')


@dataclass(frozen=True)
class _Option:
    variable: str
    default: Any
    type_fn: Callable[[Any], Any]
    params: tuple[str, ...]  # candidate ``configure`` parameter names, preferred first


_OPTIONS: tuple[_Option, ...] = (
    _Option(PYROSCOPE_SERVER, DEFAULT_SERVER, _parse_server, ('server_address',)),
    _Option(PYROSCOPE_USER, '', _parse_text, ('basic_auth_username',)),
    _Option(PYROSCOPE_TOKEN, '', _parse_text, ('basic_auth_password', 'auth_token')),
    _Option(PYROSCOPE_TENANT, '', _parse_text, ('tenant_id',)),
    _Option(PYROSCOPE_SAMPLE_RATE, 100, _parse_sample_rate, ('sample_rate',)),
    _Option(PYROSCOPE_DETECT_SUBPROCESSES, True, parse_bool_strict, ('detect_subprocesses',)),
    _Option(PYROSCOPE_ON_CPU, True, parse_bool_strict, ('oncpu',)),
    _Option(PYROSCOPE_GIL_ONLY, True, parse_bool_strict, ('gil_only',)),
    _Option(PYROSCOPE_ENABLE_LOGGING, False, parse_bool_strict, ('enable_logging',)),
)
_APP_NAME_PARAMS = ('application_name', 'app_name')
_TAGS_PARAMS = ('tags',)
_SECRET_VARIABLES = frozenset((PYROSCOPE_TOKEN,))
_SECRET_PARAMS = frozenset(p for opt in _OPTIONS if opt.variable in _SECRET_VARIABLES for p in opt.params)


@dataclass(frozen=True)
class PyroscopeConfig:
    """The active profiling configuration (the value of the ``pyroscope`` extension point); secrets masked.

    ``options`` are the keyword arguments given to ``pyroscope.configure`` (tags and name excluded);
    ``unsupported`` the ``PYROSCOPE_*`` variables the installed client has no parameter for.
    """

    application_name: str
    server_address: str
    tags: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    client_version: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as a plain dict (secrets masked)."""
        return {'application_name': self.application_name, 'server_address': self.server_address,
                'tags': dict(self.tags), 'options': dict(self.options), 'unsupported': list(self.unsupported),
                'client_version': self.client_version}


def read_pyroscope_settings(v: Variables) -> dict[str, Any]:
    """Return ``{variable name: typed value}`` for every ``PYROSCOPE_*`` setting (defaults registered in ``v``).

    Raises:
        VariableTypeError (a ValueError): a value cannot be parsed; the message names the variable and the value
            (e.g. ``PYROSCOPE_SAMPLE_RATE='fast'``).
    """
    return {opt.variable: v.environ(opt.variable, default=opt.default, type_fn=opt.type_fn) for opt in _OPTIONS}


def get_pyroscope_tags(v: Variables) -> dict[str, str]:
    """Return the profiling tags: app parameters, ``app_name``, ``run_id`` (when ``RUN_ID`` is set) and every
    ``PYROSCOPE_TAG_<NAME>`` variable (as ``<name>``, lower-cased); values are strings, ``None`` values left out.
    """
    from ..core._app_info import get_app_params

    tags: dict[str, Any] = {}
    for key, value in get_app_params(v).items():
        tags[str(key)] = value
    tags['app_name'] = v.get('APP_NAME')
    tags['run_id'] = v.get('RUN_ID')
    for key, value in v.get_by_prefix(PYROSCOPE_TAG_PREFIX, drop_prefix=True).items():
        if key:
            tags[key.lower()] = value
    out: dict[str, str] = {}
    for key, value in tags.items():
        if value is None or value == '':
            continue
        name = _TAG_NAME_BAD.sub('_', key)
        out[name] = str(value)
    return dict(sorted(out.items()))


def _supported_params(configure: Callable[..., Any]) -> Optional[frozenset[str]]:
    """Return the keyword parameter names ``configure`` accepts, or None when it takes ``**kwargs``/is opaque."""
    try:
        sig = inspect.signature(configure)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(p.name)
    return frozenset(names)


def _pick(params: tuple[str, ...], supported: Optional[frozenset[str]]) -> Optional[str]:
    if supported is None:
        return params[0]
    return next((p for p in params if p in supported), None)


def map_configure_kwargs(configure: Callable[..., Any], settings: Mapping[str, Any], application_name: str,
                         tags: Mapping[str, str],
                         logger: Optional[logging.Logger] = None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Map the settings onto the parameters of ``configure`` (read from its signature).

    Returns ``(kwargs, unsupported)``: the keyword arguments to pass and the names of the variables the client has
    no parameter for (each noted at debug level on ``logger``).

    Raises:
        TypeError: the client accepts neither ``application_name`` nor ``app_name``.
    """
    log = logger or logging.getLogger(__name__)
    supported = _supported_params(configure)
    if supported is None:
        log.debug('cannot read the keyword parameters of %r; passing every setting under its usual name', configure)
    name_param = _pick(_APP_NAME_PARAMS, supported)
    if name_param is None:
        raise TypeError(f'the installed pyroscope client\'s configure{inspect.signature(configure)} accepts neither '
                        f'application_name nor app_name; install a supported version: {INSTALL_HINT}')
    kwargs: dict[str, Any] = {name_param: application_name}
    tags_param = _pick(_TAGS_PARAMS, supported)
    if tags_param is not None:
        kwargs[tags_param] = dict(tags)
    elif tags:
        log.debug('the installed pyroscope client does not accept tags; not sending %s', sorted(tags))
    unsupported: list[str] = []
    for opt in _OPTIONS:
        param = _pick(opt.params, supported)
        value = settings.get(opt.variable, opt.default)
        if param is None:
            unsupported.append(opt.variable)
            log.debug('%s=%r is accepted but the installed pyroscope client has no %s parameter; ignored',
                      opt.variable, _masked(opt.variable, value), ' / '.join(opt.params))
            continue
        kwargs[param] = value
    return kwargs, tuple(unsupported)


def _masked(variable: str, value: Any) -> Any:
    if variable in _SECRET_VARIABLES:
        return '****' if value not in (None, '') else value
    return mask_value(variable, value)


def _redact_url(url: str) -> str:
    """Return ``url`` with the password of any ``user:password@`` part masked."""
    return mask_url_credentials(url)


def _mask_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``configure`` keyword arguments fit to print: secrets masked, tag values under secret names masked."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _SECRET_PARAMS:
            out[key] = '****' if value not in (None, '') else value
        elif key in _TAGS_PARAMS and isinstance(value, Mapping):
            out[key] = redact_mapping(value)
        else:
            out[key] = mask_value(key, value)
    return out


def _client_version() -> Optional[str]:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - stdlib on 3.8+
        return None
    try:
        return version('pyroscope-io')
    except PackageNotFoundError:
        return None


class PyroscopePlugin(Plugin[Optional[PyroscopeConfig]]):
    """Configures the ``pyroscope-io`` profiling agent at startup and stops it (flushing) at shutdown.

    The value of the ``pyroscope`` extension point is a :class:`PyroscopeConfig`, or None when the client is not
    installed or failed to start.
    """

    eager = True
    #: thread ids before the agent started (set by ``initialize``): the agent's threads are the ones not in it
    _threads_before: Optional[frozenset[int]] = None

    def extension_point_name(self, v: Variables) -> str:
        """Return ``EXT_PYROSCOPE``."""
        return EXT_PYROSCOPE

    def is_enabled(self, v: Variables) -> bool:
        """Return the value of ``PYROSCOPE_ENABLED`` (a boolean; unset is False).

        Raises:
            VariableTypeError: the value is not a boolean.
        """
        return bool(v.environ(PYROSCOPE_ENABLED, type_fn=parse_bool_strict))

    def initialize(self, v: Variables, logger: logging.Logger) -> Optional[PyroscopeConfig]:
        """Start the profiling agent; return its configuration (secrets masked), or None when it is not running.

        Raises:
            VariableTypeError (a ValueError): a ``PYROSCOPE_*`` value cannot be parsed (names variable and value).
            ValueError: the app has no name (``APP_NAME``).
        """
        settings = read_pyroscope_settings(v)
        v.environ(PYROSCOPE_SHUTDOWN_TIMEOUT, default=DEFAULT_SHUTDOWN_TIMEOUT, type_fn=_parse_timeout)
        app_name = v.get('APP_NAME')
        if app_name in (None, ''):
            raise ValueError('APP_NAME is not set: the Pyroscope application name is the app name; call '
                             'init_framework(...) first or set APP_NAME')
        app_name = str(app_name)
        tags = get_pyroscope_tags(v)
        try:
            import pyroscope
        except ImportError as e:
            logger.warning('%s is on but the pyroscope-io client cannot be imported (%s): profiling is off; '
                           'install the pyroscope extra: %s', PYROSCOPE_ENABLED, e, INSTALL_HINT)
            return None

        kwargs, unsupported = map_configure_kwargs(pyroscope.configure, settings, app_name, tags, logger)
        masked = _mask_kwargs(kwargs)
        options = {k: val for k, val in masked.items() if k not in _APP_NAME_PARAMS + _TAGS_PARAMS}
        config = PyroscopeConfig(application_name=app_name, server_address=_redact_url(settings[PYROSCOPE_SERVER]),
                                 tags=redact_mapping(tags), options=options, unsupported=unsupported,
                                 client_version=_client_version())
        self._threads_before = frozenset(_native_threads())
        try:
            result = pyroscope.configure(**kwargs)
        except Exception:
            logger.exception('pyroscope.configure(%s) failed: profiling is off',
                             ', '.join(f'{k}={val!r}' for k, val in masked.items()))
            return None
        if result is False:
            logger.warning('pyroscope.configure(%s) returned False (the agent did not start): profiling is off',
                           ', '.join(f'{k}={val!r}' for k, val in masked.items()))
            return None
        logger.info('pyroscope profiling on: application=%s server=%s tags=%s sample_rate=%s',
                    app_name, config.server_address, {k: mask_value(k, val) for k, val in tags.items()},
                    settings[PYROSCOPE_SAMPLE_RATE])
        logger.debug('pyroscope.configure(%s)', ', '.join(f'{k}={val!r}' for k, val in masked.items()))
        return config

    def shutdown(self, v: Variables, logger: logging.Logger, value: Optional[PyroscopeConfig]) -> None:
        """Stop the agent, flushing the last profile; bounded by ``PYROSCOPE_SHUTDOWN_TIMEOUT`` seconds."""
        if value is None:
            return
        import sys
        pyroscope = sys.modules.get('pyroscope')
        stop = getattr(pyroscope, 'shutdown', None) or getattr(pyroscope, 'stop', None)
        if stop is None:
            logger.debug('the pyroscope client offers no shutdown(); nothing to stop')
            return
        try:
            timeout = v.environ(PYROSCOPE_SHUTDOWN_TIMEOUT, default=DEFAULT_SHUTDOWN_TIMEOUT, type_fn=_parse_timeout)
        except ValueError as e:
            logger.warning('%s; using %ss', e, DEFAULT_SHUTDOWN_TIMEOUT)
            timeout = DEFAULT_SHUTDOWN_TIMEOUT
        started = time.monotonic()
        stopped = _call_bounded(stop, timeout or None, logger)
        if stopped:
            # pyroscope-io 1.0.x (the newest for Python 3.9) returns from shutdown() while its session manager is
            # still sending the last profile; the process could exit before it was sent. Wait for that upload.
            left = None if not timeout else max(0.0, timeout - (time.monotonic() - started))
            stopped = _wait_for_uploader(self._threads_before, left)
        if stopped:
            logger.debug('pyroscope agent stopped')
        else:
            logger.warning('pyroscope agent did not stop within %s=%ss (server unreachable or slow?); '
                           'the last profile may be lost', PYROSCOPE_SHUTDOWN_TIMEOUT, timeout)


# The agent's HTTP client runs in a native thread named ``reqwest-internal-sync-runtime`` (``comm`` keeps 15
# characters); it ends when the session manager that owns the client ends, after its last upload.
_UPLOADER_THREAD = 'reqwest-interna'


def _native_threads() -> dict[int, str]:
    """Return ``{thread id: name}`` for every thread of this process, Python's or native (Linux ``/proc``; an
    empty dict where that cannot be read)."""
    try:
        ids = os.listdir('/proc/self/task')
    except OSError:
        return {}
    names = {}
    for tid in ids:
        try:
            with open(f'/proc/self/task/{tid}/comm', encoding='utf-8', errors='replace') as f:
                names[int(tid)] = f.read().strip()
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
    return names


def _wait_for_uploader(before: Optional[frozenset[int]], timeout: Optional[float]) -> bool:
    """Wait until the agent's upload thread (started after the thread ids ``before`` were taken) has ended, at
    most ``timeout`` seconds (None: no limit); return False when it is still running. True at once when nothing
    was recorded (``before`` None) or threads cannot be listed here."""
    if before is None:
        return True
    deadline = None if timeout is None else time.monotonic() + timeout
    while any(tid not in before and name.startswith(_UPLOADER_THREAD) for tid, name in _native_threads().items()):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _call_bounded(fn: Callable[[], Any], timeout: Optional[float], logger: logging.Logger) -> bool:
    """Call ``fn`` in a daemon thread and wait at most ``timeout`` seconds; return False on timeout."""
    def _run() -> None:
        try:
            fn()
        except Exception:
            logger.exception('pyroscope shutdown failed')

    thread = threading.Thread(target=_run, name='saf-pyroscope-shutdown', daemon=True)
    try:
        thread.start()
    except RuntimeError:  # no new threads (interpreter finalizing): call directly
        _run()
        return True
    thread.join(timeout)
    return not thread.is_alive()


__all__ = ['EXT_PYROSCOPE', 'PYROSCOPE_ENABLED', 'PyroscopePlugin', 'PyroscopeConfig', 'get_pyroscope_tags',
           'map_configure_kwargs', 'read_pyroscope_settings', 'INSTALL_HINT', 'DEFAULT_SERVER']
