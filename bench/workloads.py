"""Benchmark workloads, runnable by any interpreter that has ``scitrera_app_framework`` installed.

Usage::

    python bench/workloads.py WORKLOAD [--n N] [--min-time SECONDS] [--repeat R]

Prints exactly one JSON object on stdout (the last line), for example::

    {"workload": "variables", "available": true, "package": "0.1.0", "metrics": {...}, "note": null, ...}

The same file is run by our interpreter and by the one holding the original release, so the numbers
compare the two packages through the same code. Only public API is used; where the original release
differs, the difference is handled here and described in the result's ``note``.

Timing conventions: in-process micro benchmarks use compiled ``timeit`` loops; each is run ``--repeat``
times and the best (smallest time) is kept. ``--n`` is the starting iteration count; with
``--min-time`` > 0 the count is scaled up until one run lasts at least that long.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import timeit
import traceback
from typing import Any, Callable

WORKLOADS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {}

#: environment keys used by the workloads; must not be inherited from the caller's environment
ENV_KEY = 'BENCH_ENV_KEY'
TYPED_KEY = 'BENCH_TYPED'
DEFAULT_KEY = 'bench_default_key'
EXT_NAME = 'bench-ext'


class Unavailable(Exception):
    """Raised by a workload when the package lacks the feature it measures."""


def workload(name: str) -> Callable[[Callable[[argparse.Namespace], dict[str, Any]]], Any]:
    def deco(fn: Callable[[argparse.Namespace], dict[str, Any]]) -> Any:
        WORKLOADS[name] = fn
        return fn

    return deco


# ----------------------------------------------------------------------------------------------------------------------
# helpers


def _package_version() -> str | None:
    try:
        from importlib.metadata import version

        return version('scitrera-app-framework')
    except Exception:  # pragma: no cover - metadata missing
        return None


def _package_file() -> str | None:
    try:
        import scitrera_app_framework

        return getattr(scitrera_app_framework, '__file__', None)
    except Exception:
        return None


def _accepts_kw(name: str) -> bool:
    """True when ``init_framework`` (package-level or core) declares the keyword ``name``."""
    import inspect

    import scitrera_app_framework

    fns = [scitrera_app_framework.init_framework]
    try:
        from scitrera_app_framework import core

        fns.append(core.init_framework)
    except Exception:
        pass
    for fn in fns:
        try:
            if name in inspect.signature(fn).parameters:
                return True
        except (TypeError, ValueError):
            continue
    return False


def _init(**kw: Any) -> Any:
    """``init_framework('bench-app', stateful=False, shutdown_hooks=False, **kw)`` on either release.

    ``multitenant`` is only passed when the signature declares it (the original treats unknown keywords as
    app parameters); the multi-tenant plugin is additionally enabled through ``SAF_MULTITENANT_ENABLED``,
    which both releases honour.
    """
    from scitrera_app_framework import init_framework

    if 'multitenant' in kw and not _accepts_kw('multitenant'):
        kw.pop('multitenant')
    return init_framework('bench-app', stateful=False, shutdown_hooks=False, **kw)


def _timeit(stmt: str, setup: str, ns: dict[str, Any], args: argparse.Namespace) -> float:
    """Best time per iteration (seconds) of ``stmt`` over ``args.repeat`` runs."""
    timer = timeit.Timer(stmt, setup, globals=ns)
    number = max(1, args.n)
    if args.min_time > 0:
        while True:
            t = timer.timeit(number)
            if t >= args.min_time or number >= 1 << 30:
                break
            number = number * 10 if t < args.min_time / 10 else number * 2
    best = min(timer.repeat(repeat=max(1, args.repeat), number=number))
    return best / number


def _ns(seconds: float) -> float:
    return round(seconds * 1e9, 2)


def _spawn_times(cmd: list[str], n: int, env: dict[str, str], cwd: str) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f'{cmd!r} failed ({proc.returncode}): {proc.stderr.decode(errors="replace")[-2000:]}')
    return times


def _process_workload(code: str, floor_code: str, args: argparse.Namespace) -> dict[str, Any]:
    """Wall time of fresh processes running ``code`` vs ``floor_code``, interleaved; min and median in ms."""
    import statistics

    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    cwd = tempfile.mkdtemp(prefix='saf-bench-')  # never import a package from the caller's cwd
    target = [sys.executable, '-c', code]
    floor = [sys.executable, '-c', floor_code]
    _spawn_times(target, 1, env, cwd)  # warm-up: writes .pyc files, warms the page cache
    _spawn_times(floor, 1, env, cwd)
    t_target: list[float] = []
    t_floor: list[float] = []
    for _ in range(max(1, args.n)):
        t_floor += _spawn_times(floor, 1, env, cwd)
        t_target += _spawn_times(target, 1, env, cwd)
    return {
        'min_ms': round(min(t_target) * 1e3, 3),
        'median_ms': round(statistics.median(t_target) * 1e3, 3),
        'floor_min_ms': round(min(t_floor) * 1e3, 3),
        'floor_median_ms': round(statistics.median(t_floor) * 1e3, 3),
        'runs': len(t_target),
    }


# ----------------------------------------------------------------------------------------------------------------------
# workloads


@workload('import')
def wl_import(args: argparse.Namespace) -> dict[str, Any]:
    """Cold ``import scitrera_app_framework`` in a fresh process vs ``python -c pass``."""
    return _process_workload('import scitrera_app_framework', 'pass', args)


_INIT_CODE = """
from scitrera_app_framework import init_framework, get_logger
v = init_framework('bench-app', stateful=False, shutdown_hooks=False)
get_logger(v).info('first line')
"""

_INIT_FLOOR = """
import logging
fmt = '%(asctime)s %(levelname)s %(threadName)s %(name)s %(funcName)s() > %(message)s'
logging.basicConfig(level=logging.INFO, format=fmt)
logging.getLogger('bench-app').info('first line')
"""


@workload('init')
def wl_init(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh process: import, ``init_framework(...)`` and one log line; floor is stdlib ``basicConfig`` + a line."""
    return _process_workload(_INIT_CODE, _INIT_FLOOR, args)


@workload('variables')
def wl_variables(args: argparse.Namespace) -> dict[str, Any]:
    """``Variables.get`` of a local key, an environment key and a registered default."""
    from scitrera_app_framework import Variables

    os.environ[ENV_KEY] = '1'
    os.environ.pop('K', None)
    os.environ.pop(DEFAULT_KEY.upper(), None)
    v = Variables()
    v.set('k', 'x')
    v.environ(DEFAULT_KEY, default='d')
    assert v.get('k') == 'x', v.get('k')
    assert v.get(ENV_KEY) == '1', v.get(ENV_KEY)
    assert v.get(DEFAULT_KEY) == 'd', v.get(DEFAULT_KEY)
    d = {'k': 'x', DEFAULT_KEY: 'd'}
    ns = {'v': v, 'd': d, 'environ': os.environ, 'ENV_KEY': ENV_KEY, 'DEFAULT_KEY': DEFAULT_KEY}
    return {
        'local_ns': _ns(_timeit("v.get('k')", '', ns, args)),
        'env_ns': _ns(_timeit('v.get(ENV_KEY)', '', ns, args)),
        'default_ns': _ns(_timeit('v.get(DEFAULT_KEY)', '', ns, args)),
        'floor_local_ns': _ns(_timeit("d.get('k')", '', ns, args)),
        'floor_env_ns': _ns(_timeit('environ.get(ENV_KEY)', '', ns, args)),
        'floor_default_ns': _ns(_timeit('d.get(DEFAULT_KEY)', '', ns, args)),
    }


@workload('variables_layers')
def wl_variables_layers(args: argparse.Namespace) -> dict[str, Any]:
    """The lookups off the default placement's fast path: ``v.k`` (attribute access), ``get`` of a key in an
    extra source, ``get`` and ``environ`` with ``EnvPlacement.BOTTOM`` (the generic walk of the layers), ``get``
    with a command-line layer on top, and ``find``; the floor is ``dict.get``."""
    from scitrera_app_framework import EnvPlacement, Variables

    os.environ.pop('K', None)
    os.environ.pop('S', None)
    os.environ.pop(TYPED_KEY, None)
    top = Variables(sources=[{'s': 'y'}])
    top.set('k', 'x')
    bottom = Variables(env_placement=EnvPlacement.BOTTOM)
    bottom.set('k', 'x')
    bottom.environ(DEFAULT_KEY, default='d')
    cli = Variables()
    cli.add_cli_source(['--other=1'])
    cli.set('k', 'x')
    assert top.k == 'x' and top.get('s') == 'y' and bottom.get('k') == 'x' and cli.get('k') == 'x'
    assert bottom.environ(TYPED_KEY, default=5, type_fn=int) == 5
    d = {'k': 'x'}
    ns = {'top': top, 'bottom': bottom, 'cli': cli, 'd': d, 'KEY': TYPED_KEY, 'DEFAULT_KEY': DEFAULT_KEY}
    return {
        'attr_ns': _ns(_timeit('top.k', '', ns, args)),
        'source_ns': _ns(_timeit("top.get('s')", '', ns, args)),
        'bottom_local_ns': _ns(_timeit("bottom.get('k')", '', ns, args)),
        'bottom_default_ns': _ns(_timeit('bottom.get(DEFAULT_KEY)', '', ns, args)),
        'bottom_environ_ns': _ns(_timeit('bottom.environ(KEY, default=5, type_fn=int)', '', ns, args)),
        'cli_local_ns': _ns(_timeit("cli.get('k')", '', ns, args)),
        'find_ns': _ns(_timeit("top.find('k')", '', ns, args)),
        'floor_ns': _ns(_timeit("d.get('k')", '', ns, args)),
    }


NAME_COUNTS = (10, 1_000, 100_000, 1_000_000)


@workload('variables_names')
def wl_variables_names(args: argparse.Namespace) -> dict[str, Any]:
    """``Variables.get`` of absent keys cycling over 10, 1k, 100k and 1M distinct names (issue 19 item 14: the
    environment key-name cache is bounded; past its bound the eviction must not make reads slower).

    Each size first reads every name once (1M names fill and overflow the cache), then times ``--n`` reads (at
    least 200,000) cycling over the names, best of ``--repeat``. ``ratio_<N>`` is the cost relative to 10 names;
    ``floor_ns_<N>`` is ``dict.get`` over the same names (what touching that many distinct objects costs).
    """
    from scitrera_app_framework import Variables

    v = Variables()
    get = v.get
    calls = max(200_000, args.n) if args.min_time > 0 else max(1, args.n)
    out: dict[str, Any] = {}
    for count in NAME_COUNTS if args.min_time > 0 else (10, 1_000):
        names = [f'bench_name_{count}_{i}' for i in range(count)]
        for name in names:
            get(name)
        seq = (names * (calls // count + 1))[:calls] if count < calls else names[:calls]
        best = floor = float('inf')
        dget = {}.get
        for _ in range(max(1, args.repeat)):
            if count >= calls:  # read names not read just before, so 1M names keep missing the cache
                seq = names[-calls:] if seq[0] == names[0] else names[:calls]
            t0 = time.perf_counter()
            for name in seq:
                get(name)
            best = min(best, time.perf_counter() - t0)
            t0 = time.perf_counter()
            for name in seq:  # the floor: touching the same name objects (memory, not the framework)
                dget(name)
            floor = min(floor, time.perf_counter() - t0)
        out[f'ns_{count}'] = _ns(best / len(seq))
        out[f'floor_ns_{count}'] = _ns(floor / len(seq))
        del names, seq
    for key in [k for k in out if k.startswith('ns_')]:
        out[f'ratio_{key[3:]}'] = round(out[key] / out['ns_10'], 2)
    return out


@workload('yaml_load')
def wl_yaml_load(args: argparse.Namespace) -> dict[str, Any]:
    """``FileSource`` load of a YAML file of 20,000 keys (``--n`` sections of 20 keys; 1,000 by default in a full
    run) and its ``reload()``, against one ``yaml.load`` of the same text with the same (pure-Python
    ``SafeLoader``) loader, best of ``--repeat``: how many parses a load costs (issue 19 item 13)."""
    import yaml

    from scitrera_app_framework.util.config_sources import FileSource

    sections = max(1, args.n) if args.min_time > 0 else max(1, min(args.n, 20))
    text = ''.join(f'section{i}:\n' + ''.join(f'  key{j}: value-{i}-{j}\n' for j in range(20)) for i in range(sections))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'big.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        load = reload = floor = float('inf')
        src = None
        for _ in range(max(1, args.repeat)):
            gc.collect()
            t0 = time.perf_counter()
            src = FileSource(path)
            load = min(load, time.perf_counter() - t0)
            t0 = time.perf_counter()
            src.reload()
            reload = min(reload, time.perf_counter() - t0)
            t0 = time.perf_counter()
            yaml.load(text, Loader=yaml.SafeLoader)
            floor = min(floor, time.perf_counter() - t0)
        assert src is not None and len(src) == sections * 20
    return {'keys': sections * 20, 'load_ms': round(load * 1e3, 2), 'reload_ms': round(reload * 1e3, 2),
            'floor_ms': round(floor * 1e3, 2), 'load_ratio': round(load / floor, 2),
            'reload_ratio': round(reload / floor, 2)}


@workload('environ')
def wl_environ(args: argparse.Namespace) -> dict[str, Any]:
    """Repeated ``v.environ('BENCH_TYPED', default=5, type_fn=int)`` (key not in the environment)."""
    from scitrera_app_framework import Variables

    os.environ.pop(TYPED_KEY, None)
    v = Variables()
    value = v.environ(TYPED_KEY, default=5, type_fn=int)
    assert value == 5, value
    ns = {'v': v, 'environ': os.environ, 'KEY': TYPED_KEY}
    return {
        'environ_ns': _ns(_timeit('v.environ(KEY, default=5, type_fn=int)', '', ns, args)),
        'floor_ns': _ns(_timeit('int(environ.get(KEY, 5))', '', ns, args)),
    }


@workload('get_extension')
def wl_get_extension(args: argparse.Namespace) -> dict[str, Any]:
    """``get_extension('bench-ext', v)`` of an eagerly initialized point; floor is a dict lookup."""
    from scitrera_app_framework import get_extension, register_plugin
    from scitrera_app_framework.api import Plugin

    value = object()

    class BenchPlugin(Plugin):
        def extension_point_name(self, v: Any) -> str:
            return EXT_NAME

        def initialize(self, v: Any, logger: Any) -> object:
            return value

    v = _init()
    register_plugin(BenchPlugin, v=v, init=True)
    assert get_extension(EXT_NAME, v) is value
    ns = {'get_extension': get_extension, 'v': v, 'd': {EXT_NAME: value}, 'NAME': EXT_NAME}
    return {
        'get_extension_ns': _ns(_timeit('get_extension(NAME, v)', '', ns, args)),
        'floor_ns': _ns(_timeit('d.get(NAME)', '', ns, args)),
    }


MULTI_EXT_NAME = 'bench-multi-ext'
MULTI_PLUGINS = 5


def _register_multi(point: str, enabled: bool, v: Any) -> dict[str, int]:
    """Register ``MULTI_PLUGINS`` multi plugins on ``point``; returns the expected ``{name: value}``."""
    from scitrera_app_framework import register_plugin
    from scitrera_app_framework.api import Plugin

    expected = {}
    for i in range(MULTI_PLUGINS):
        name = f'{point}-{i}'

        def make(i: int, name: str) -> type:
            class MultiPlugin(Plugin):
                def name(self) -> str:
                    return name

                def extension_point_name(self, v: Any) -> str:
                    return point

                def is_multi_extension(self, v: Any) -> bool:
                    return True

                def is_enabled(self, v: Any) -> bool:
                    return enabled

                def initialize(self, v: Any, logger: Any) -> int:
                    return i

            return MultiPlugin

        register_plugin(make(i, name), v=v)
        expected[name] = i
    return expected


@workload('get_extensions')
def wl_get_extensions(args: argparse.Namespace) -> dict[str, Any]:
    """``get_extensions(point, v)`` of a multi extension point with 5 initialized plugins; floor: a copy of a
    5-item dict.

    The plugins are written the natural way first (``is_enabled`` left True). The original release then gives
    every member the first member's value, so where that happens the plugins are registered again on another
    point with ``is_enabled`` False (the original's way to mark a multi-only plugin); ``variant`` says which.
    """
    from scitrera_app_framework import get_extensions

    v = _init()
    point, variant = MULTI_EXT_NAME, 'enabled'
    expected = _register_multi(point, True, v)
    if dict(get_extensions(point, v)) != expected:
        point, variant = MULTI_EXT_NAME + '-alt', 'is_enabled=False'
        expected = _register_multi(point, False, v)
    got = get_extensions(point, v)
    assert dict(got) == expected, got
    assert dict(get_extensions(point, v)) == expected
    ns = {'get_extensions': get_extensions, 'v': v, 'd': dict(expected), 'NAME': point}
    return {
        'get_extensions_ns': _ns(_timeit('get_extensions(NAME, v)', '', ns, args)),
        'floor_ns': _ns(_timeit('d.copy()', '', ns, args)),
        'plugins': MULTI_PLUGINS,
        'variant': variant,
    }


class _NullFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return ''


class _ConstFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return 'x'


#: the ``logging`` switches that decide which process/thread/task fields a LogRecord fills (3.12+: taskName)
_RECORD_SWITCHES = ('logThreads', 'logProcesses', 'logMultiprocessing', 'logAsyncioTasks')


class _StdlibDefaults:
    """Context manager: the standard library's own record factory and ``log*`` switches while inside, so the
    stdlib floor is what a plain stdlib setup costs whatever the package under test changed process-wide."""

    def __enter__(self) -> dict[str, Any]:
        self.switches = {name: getattr(logging, name) for name in _RECORD_SWITCHES if hasattr(logging, name)}
        self.factory = logging.getLogRecordFactory()
        for name in self.switches:
            setattr(logging, name, True)
        logging.setLogRecordFactory(logging.LogRecord)
        return {'switches': self.switches, 'factory': f'{self.factory.__module__}.{self.factory.__qualname__}'}

    def __exit__(self, *exc: Any) -> None:
        for name, val in self.switches.items():
            setattr(logging, name, val)
        logging.setLogRecordFactory(self.factory)


def _log_rate(fmt: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """Records/s of ``logger.info('message %d', i, extra={'k': i})`` on the app logger, and two floors, all
    writing to one ``io.StringIO``, interleaved (best of ``--repeat`` rounds each):

    - ``floor_records_per_s``: the same handlers with a formatter that returns ``''``;
    - ``stdlib_floor_records_per_s``: a stdlib logger with a ``logging.StreamHandler`` whose formatter returns a
      constant string, measured with the standard library's record factory and ``log*`` switches restored.
    """
    if fmt is None:
        os.environ.pop('LOGGING_FORMAT', None)
    else:
        os.environ['LOGGING_FORMAT'] = fmt
    os.environ.pop('LOGGING_LEVEL', None)
    from scitrera_app_framework import get_logger

    v = _init(region='eu')
    buf = io.StringIO()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    if not handlers:
        raise Unavailable('no StreamHandler on the root logger after init_framework')
    for h in handlers:
        h.setStream(buf)
    logger = get_logger(v)
    logger.info('message %d', 0, extra={'k': 0})
    first = buf.getvalue().splitlines()[-1] if buf.getvalue() else ''
    fields = sorted(json.loads(first)) if fmt == 'json' else None

    floor_logger = logging.getLogger('bench-stdlib-floor')
    floor_logger.propagate = False
    floor_logger.setLevel(logging.INFO)
    floor_handler = logging.StreamHandler(buf)
    floor_handler.setFormatter(_ConstFormatter())
    floor_logger.addHandler(floor_handler)

    n = max(1, args.n)
    if args.min_time > 0:  # scale n so that one run of the loop lasts at least min_time
        while True:
            buf.seek(0)
            buf.truncate()
            t0 = time.perf_counter()
            for i in range(n):
                logger.info('message %d', i, extra={'k': i})
            if time.perf_counter() - t0 >= args.min_time or n >= 1 << 24:
                break
            n *= 2

    def once(lg: logging.Logger) -> float:
        buf.seek(0)
        buf.truncate()
        gc.collect()
        t0 = time.perf_counter()
        for i in range(n):
            lg.info('message %d', i, extra={'k': i})
        return time.perf_counter() - t0

    def null_once() -> float:
        saved = [h.formatter for h in handlers]
        for h in handlers:
            h.setFormatter(_NullFormatter())
        try:
            return once(logger)
        finally:
            for h, f in zip(handlers, saved):
                h.setFormatter(f)

    t = t_null = t_std = float('inf')
    process_state: dict[str, Any] = {}  # what the package set process-wide (switches, record factory)
    for _ in range(max(1, args.repeat)):  # interleaved, so all three see the same machine state
        t = min(t, once(logger))
        written = buf.getvalue().count('\n')
        assert written == n, (written, n)
        with _StdlibDefaults() as state:
            t_std = min(t_std, once(floor_logger))
        process_state = state
        t_null = min(t_null, null_once())
    return {
        'records_per_s': round(n / t, 1),
        'floor_records_per_s': round(n / t_null, 1),
        'stdlib_floor_records_per_s': round(n / t_std, 1),
        'records': n,
        'handlers': len(handlers),
        'sample': first[:400],
        'fields': fields,
        'record_factory': process_state.get('factory'),
        'record_switches': process_state.get('switches'),
    }


@workload('log_json')
def wl_log_json(args: argparse.Namespace) -> dict[str, Any]:
    """JSON log records/s to an in-memory stream; floors: a do-nothing formatter, the stdlib (see _log_rate)."""
    return _log_rate('json', args)


@workload('log_json_secrets')
def wl_log_json_secrets(args: argparse.Namespace) -> dict[str, Any]:
    """``log_json`` with redaction on (the default) and ``BENCH_KNOWN_SECRETS`` (default 10) known secret values
    registered (random 16-32 character tokens; issue 19 item 8): every message is searched for them."""
    import random
    import string

    try:
        from scitrera_app_framework.util.secrets import add_secret_values
    except ImportError as e:
        raise Unavailable(f'no known-secret-value registry: {e}') from None
    count = int(os.environ.get('BENCH_KNOWN_SECRETS', '10'))
    rnd = random.Random(19)
    alphabet = string.ascii_letters + string.digits
    add_secret_values(''.join(rnd.choice(alphabet) for _ in range(rnd.randint(16, 32))) for _ in range(count))
    out = _log_rate('json', args)
    out['known_secrets'] = count
    from scitrera_app_framework.util.secrets import secret_values_pattern

    pattern = secret_values_pattern()
    text = 'connection to the upstream failed for tenant t1: 503 Service Unavailable from https://api.example.com/'
    if pattern is not None:  # the search alone, on a 100-character message (the benchmark record's is 13)
        out['search_ns_100_chars'] = _ns(_timeit('search(text)', '', {'search': pattern.search, 'text': text[:100]},
                                                 args))
    return out


@workload('log_plain')
def wl_log_plain(args: argparse.Namespace) -> dict[str, Any]:
    """Plain (default format) log records/s to an in-memory stream; floors as for ``log_json``."""
    return _log_rate(None, args)


@workload('log_otel')
def wl_log_otel(args: argparse.Namespace) -> dict[str, Any]:
    """JSON log records/s with OpenTelemetry: not installed (the formatter a process without opentelemetry-api
    builds), installed with an SDK tracer in use but no span active, and with a span active; interleaved, best of
    ``--repeat`` each, same records as ``log_json``."""
    import copy

    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError as e:
        raise Unavailable(f'opentelemetry-sdk is not installed ({e})') from e
    os.environ['LOGGING_FORMAT'] = 'json'
    os.environ.pop('LOGGING_LEVEL', None)
    from scitrera_app_framework import get_logger
    from scitrera_app_framework.core.logs import find_framework_handler

    v = _init(region='eu')
    handler = find_framework_handler()
    if handler is None or getattr(handler.formatter, '_trace', None) is None:
        raise Unavailable('the framework formatter has no trace source (a release without trace ids in logs)')
    buf = io.StringIO()
    handler.setStream(buf)
    traced = handler.formatter
    not_installed = copy.copy(traced)
    not_installed._trace = None  # what the formatter is when opentelemetry-api is not installed (decided once)
    tracer = TracerProvider().get_tracer('bench')
    logger = get_logger(v)
    with tracer.start_as_current_span('warm-up'):
        logger.info('message %d', 0, extra={'k': 0})  # binds the trace source
    line = json.loads(buf.getvalue().splitlines()[-1])
    if 'trace_id' not in line:
        raise Unavailable('no trace_id in a line logged under a span')

    n = max(1, args.n)
    if args.min_time > 0:
        while True:
            buf.seek(0)
            buf.truncate()
            t0 = time.perf_counter()
            for i in range(n):
                logger.info('message %d', i, extra={'k': i})
            if time.perf_counter() - t0 >= args.min_time or n >= 1 << 24:
                break
            n *= 2

    def once(fmt: logging.Formatter, span: bool) -> float:
        handler.setFormatter(fmt)
        buf.seek(0)
        buf.truncate()
        gc.collect()
        with tracer.start_as_current_span('request') if span else contextlib.nullcontext():
            t0 = time.perf_counter()
            for i in range(n):
                logger.info('message %d', i, extra={'k': i})
            t = time.perf_counter() - t0
        assert buf.getvalue().count('\n') == n
        return t

    best = {'off': float('inf'), 'idle': float('inf'), 'span': float('inf')}
    variants = [('off', not_installed, False), ('idle', traced, False), ('span', traced, True)]
    for r in range(max(1, args.repeat)):  # interleaved, the order reversed every other round
        for key, fmt, span in (variants if r % 2 == 0 else variants[::-1]):
            best[key] = min(best[key], once(fmt, span))
    t_off, t_idle, t_span = best['off'], best['idle'], best['span']
    handler.setFormatter(traced)
    return {
        'not_installed_records_per_s': round(n / t_off, 1),
        'no_span_records_per_s': round(n / t_idle, 1),
        'span_records_per_s': round(n / t_span, 1),
        'records': n,
        'sample': line,
    }


@workload('submit')
def wl_submit(args: argparse.Namespace) -> dict[str, Any]:
    """``get_extension('__bg_exec').submit_job(fn)`` vs raw ``ThreadPoolExecutor(4).submit(fn)``.

    Only the submitting loop is timed; completion of the batch is awaited outside the timed section.
    """
    from concurrent.futures import ThreadPoolExecutor

    from scitrera_app_framework import get_extension

    v = _init(base_plugins=True)
    ex = get_extension('__bg_exec', v)
    if not hasattr(ex, 'submit_job'):
        raise Unavailable(f'{type(ex).__name__} has no submit_job')
    pool = ThreadPoolExecutor(4)
    sink: list[Any] = []
    n = max(1, args.n)
    if args.min_time > 0:
        n = max(n, 2000)

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 120
        while len(sink) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f'only {len(sink)} of {count} jobs completed')
            time.sleep(0.0005)

    def batch(submit: Callable[..., Any]) -> float:
        sink.clear()
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(n):
            submit(sink.append, None)
        t = time.perf_counter() - t0
        wait_for(n)
        return t

    batch(ex.submit_job)  # warm-up: starts the worker threads
    batch(pool.submit)
    best_saf = best_raw = float('inf')
    rounds = max(1, args.repeat)
    deadline = time.perf_counter() + max(args.min_time, 0) * 2 * rounds
    r = 0
    while r < rounds or time.perf_counter() < deadline:  # interleave so both see the same machine state
        best_raw = min(best_raw, batch(pool.submit))
        best_saf = min(best_saf, batch(ex.submit_job))
        r += 1
    pool.shutdown(wait=True)
    return {
        'submit_ns': _ns(best_saf / n),
        'floor_ns': _ns(best_raw / n),
        'jobs': n,
        'batches': r,
        'executor': f'{type(ex).__module__}.{type(ex).__name__}',
    }


def _rss_bytes() -> int | None:
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, AttributeError):
        return None


@workload('tenants')
def wl_tenants(args: argparse.Namespace) -> dict[str, Any]:
    """``get_tenant_variables(f't{i}', v=v)`` for N distinct tenants: time and memory (tracemalloc, RSS).

    Memory counts only allocations made during the loop (tracemalloc started after init). ``bounded`` is
    true when the traced memory at the end is within 1.5x (+0.25 MiB) of the traced memory after the first
    ``cache_size`` tenants, i.e. memory stopped growing once the cache was full (None when N < 3x that).
    """
    import tracemalloc

    try:
        from scitrera_app_framework.ext_plugins.muti_tenant import get_tenant_variables
    except ImportError as e:
        raise Unavailable(f'multi-tenant module not importable: {e}') from e

    os.environ['SAF_MULTITENANT_ENABLED'] = 'true'
    cache_env = os.environ.get('SAF_MULTITENANT_CACHE_SIZE')
    cache_size = int(cache_env) if cache_env else None
    checkpoint = cache_size if cache_size else 1000
    v = _init(multitenant=True)
    get_tenant_variables('warm-up', v=v)
    n = max(1, args.n)
    gc.collect()
    rss0 = _rss_bytes()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    mem_at_checkpoint = None
    t0 = time.perf_counter()
    for i in range(n):
        get_tenant_variables(f't{i}', v=v)
        if i + 1 == checkpoint:
            mem_at_checkpoint = tracemalloc.get_traced_memory()[0] - base
    elapsed = time.perf_counter() - t0
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = _rss_bytes()
    current -= base
    peak -= base
    mib = 1024 * 1024
    bounded = None
    if mem_at_checkpoint is not None and n >= 3 * checkpoint:
        bounded = current <= 1.5 * mem_at_checkpoint + mib / 4
    return {
        'tenants': n,
        'cache_size': cache_size,
        'seconds': round(elapsed, 4),
        'us_per_tenant': round(elapsed / n * 1e6, 3),
        'traced_mib': round(current / mib, 3),
        'traced_peak_mib': round(peak / mib, 3),
        'traced_mib_at_checkpoint': None if mem_at_checkpoint is None else round(mem_at_checkpoint / mib, 3),
        'checkpoint': checkpoint,
        'rss_growth_mib': None if rss0 is None or rss1 is None else round((rss1 - rss0) / mib, 3),
        'bounded': bounded,
        'loggers': len(logging.Logger.manager.loggerDict),
    }


# ----------------------------------------------------------------------------------------------------------------------
# typed settings, side by side with pydantic-settings (installed only in the bench's own environment)

SETTINGS_PREFIX = 'BENCHS'
#: the 20 fields of the settings workload: name -> (annotation, default, environment value or None)
SETTINGS_FIELDS: dict[str, tuple[str, Any, str | None]] = {
    'host': ('str', 'localhost', 'db.internal'),
    'port': ('int', 5432, '6543'),
    'user': ('str', 'app', None),
    'database': ('str', 'main', 'orders'),
    'pool_size': ('int', 10, '20'),
    'pool_timeout': ('float', 30.0, '12.5'),
    'ssl': ('bool', False, 'true'),
    'echo': ('bool', False, None),
    'replicas': ('list[str]', [], '["r1", "r2"]'),
    'retries': ('int', 3, None),
    'backoff': ('float', 0.5, None),
    'region': ('str', 'eu-west-1', 'us-east-1'),
    'zone': ('Optional[str]', None, None),
    'max_rows': ('Optional[int]', None, '1000'),
    'statement_timeout': ('int', 0, None),
    'app_name': ('str', 'bench', None),
    'read_only': ('bool', False, None),
    'tags': ('list[str]', [], None),
    'weight': ('float', 1.0, '2.0'),
    'log_queries': ('bool', True, 'no'),
}


def _settings_source(base: str, header: str) -> str:
    """Source of a settings class with SETTINGS_FIELDS on ``base`` (the same text for both libraries)."""
    lines = [header]
    for name, (ann, default, _env) in SETTINGS_FIELDS.items():
        lines.append(f'    {name}: {ann} = {default!r}')
    return '\n'.join(lines) + '\n'


def _exec(source: str, ns: dict[str, Any]) -> None:
    """Run a class definition with evaluated annotations (not this file's ``from __future__ import annotations``)."""
    exec(compile(source, '<bench settings>', 'exec', dont_inherit=True), ns)


def _import_pydantic_settings() -> tuple[Any, str | None]:
    """``pydantic_settings.BaseSettings`` from the bench's own environment (``BENCH_PYDANTIC_SITE``, set by
    ``run.py``), or from this interpreter; ``(None, reason)`` when neither has it."""
    site = os.environ.get('BENCH_PYDANTIC_SITE')
    if site:
        sys.path.insert(0, site)  # first: its typing_extensions & co must be the versions pydantic was built with
    try:
        from pydantic_settings import BaseSettings
    except ImportError as e:
        where = site or 'a venv of its own'
        return None, f'pydantic-settings not importable ({e}); bench/run.py installs it in {where}'
    return BaseSettings, None


@workload('settings')
def wl_settings(args: argparse.Namespace) -> dict[str, Any]:
    """A 20-field typed settings class (10 fields from the environment): attribute read and load, ours vs
    pydantic-settings ``BaseSettings``; floors: a plain object's attribute read, and 20 ``v.environ`` calls (the
    Variables work under our load).
    """
    try:
        from scitrera_app_framework import Variables
        from scitrera_app_framework.settings import Settings
    except ImportError as e:
        raise Unavailable(f'no typed settings in this release: {e}') from e

    for name, (_ann, _default, env) in SETTINGS_FIELDS.items():
        key = f'{SETTINGS_PREFIX}_{name.upper()}'
        if env is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = env
    ns: dict[str, Any] = {'Settings': Settings, 'Optional': __import__('typing').Optional}
    _exec(_settings_source('Settings', f"class Ours(Settings, prefix='{SETTINGS_PREFIX}'):"), ns)
    ours_cls = ns['Ours']
    v = Variables()
    ours = ours_cls.load(v)
    assert ours.port == 6543 and ours.replicas == ['r1', 'r2'] and ours.log_queries is False, ours

    class Plain:
        def __init__(self) -> None:
            for name in SETTINGS_FIELDS:
                setattr(self, name, getattr(ours, name))

    plain = Plain()
    environ_calls = [(f'{SETTINGS_PREFIX}_{n.upper()}', d, f) for n, (_a, d, _e), f in zip(
        SETTINGS_FIELDS, SETTINGS_FIELDS.values(), (f.fn for f in ours_cls.__dict__['_saf_info'].fields))]
    tns = {'ours': ours, 'plain': plain, 'Ours': ours_cls, 'v': v, 'calls': environ_calls}
    out: dict[str, Any] = {
        'fields': len(SETTINGS_FIELDS),
        'from_environment': sum(1 for _a, _d, e in SETTINGS_FIELDS.values() if e is not None),
        'attr_ns': _ns(_timeit('ours.port', '', tns, args)),
        'floor_attr_ns': _ns(_timeit('plain.port', '', tns, args)),
        'load_us': round(_timeit('Ours.load(v)', '', tns, args) * 1e6, 3),
        'environ20_us': round(_timeit('for k, d, f in calls: v.environ(k, d, f)', '', tns, args) * 1e6, 3),
    }
    base_settings, why = _import_pydantic_settings()
    if base_settings is None:
        out['pydantic_note'] = why
        return out
    import pydantic_settings

    pns: dict[str, Any] = {'BaseSettings': base_settings, 'Optional': __import__('typing').Optional,
                           'SettingsConfigDict': pydantic_settings.SettingsConfigDict}
    header = ('class Theirs(BaseSettings):\n'
              f"    model_config = SettingsConfigDict(env_prefix='{SETTINGS_PREFIX}_', case_sensitive=False)")
    _exec(_settings_source('BaseSettings', header), pns)
    theirs_cls = pns['Theirs']
    theirs = theirs_cls()
    assert theirs.port == 6543 and theirs.replicas == ['r1', 'r2'] and theirs.log_queries is False, theirs
    assert {n: getattr(theirs, n) for n in SETTINGS_FIELDS} == {n: getattr(ours, n) for n in SETTINGS_FIELDS}
    tns.update(theirs=theirs, Theirs=theirs_cls)
    # interleaved with ours (measured again) so both see the same machine state; the best of each is kept
    out['pydantic_attr_ns'] = _ns(_timeit('theirs.port', '', tns, args))
    out['attr_ns'] = min(out['attr_ns'], _ns(_timeit('ours.port', '', tns, args)))
    out['floor_attr_ns'] = min(out['floor_attr_ns'], _ns(_timeit('plain.port', '', tns, args)))
    out['pydantic_load_us'] = round(_timeit('Theirs()', '', tns, args) * 1e6, 3)
    out['load_us'] = min(out['load_us'], round(_timeit('Ours.load(v)', '', tns, args) * 1e6, 3))
    out['pydantic_settings'] = pydantic_settings.__version__
    return out


# ----------------------------------------------------------------------------------------------------------------------
# entry point


def run_workload(name: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        'workload': name,
        'available': False,
        'package': _package_version(),
        'package_file': None,
        'python': sys.version.split()[0],
        'executable': sys.executable,
        'n': args.n,
        'metrics': None,
        'note': None,
    }
    # the framework may log to stderr; keep stdout for the one result line
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        result['metrics'] = WORKLOADS[name](args)
        result['available'] = True
    except Unavailable as e:
        result['note'] = f'unavailable: {e}'
    except ImportError as e:
        result['note'] = f'unavailable: import failed: {e!r}'
        traceback.print_exc(file=sys.stderr)
    except Exception as e:
        result['note'] = f'error: {type(e).__name__}: {e}'
        traceback.print_exc(file=sys.stderr)
    finally:
        sys.stdout = real_stdout
    result['package_file'] = _package_file()
    return result


# ----------------------------------------------------------------------------------------------------------------------
# web: requests/s through serve() against plain uvicorn.run on the same app; the middleware's cost per request

_WEB_APP = r"""
import os, sys
mode, port = sys.argv[1], int(sys.argv[2])
from scitrera_app_framework import init_framework
init_framework('bench-web', stateful=False, log_level='WARNING')

async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'2')]})
    await send({'type': 'http.response.body', 'body': b'ok'})

opts = dict(host='127.0.0.1', port=port, access_log=False, log_level='warning', lifespan='off')
if mode == 'serve':
    from scitrera_app_framework.web import serve
    serve(app, **opts)
else:
    import uvicorn
    uvicorn.run(app, **opts)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _hammer(port: int, n: int, conns: int) -> float:
    """Send ``n`` GETs over ``conns`` keep-alive connections (asyncio, raw HTTP/1.1); returns requests/s."""
    import asyncio

    request = b'GET / HTTP/1.1\r\nHost: bench\r\n\r\n'

    async def one(count: int) -> None:
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        try:
            for _ in range(count):
                writer.write(request)
                head = await reader.readuntil(b'\r\n\r\n')
                length = 0
                for line in head.split(b'\r\n'):
                    if line.lower().startswith(b'content-length:'):
                        length = int(line.split(b':', 1)[1])
                if length:
                    await reader.readexactly(length)
        finally:
            writer.close()

    async def run() -> float:
        per = max(1, n // conns)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(per) for _ in range(conns)))
        return per * conns / (time.perf_counter() - t0)

    return asyncio.run(run())


def _start_web(mode: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
    proc = subprocess.Popen([sys.executable, '-c', _WEB_APP, mode, str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    import socket

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'{mode} server exited: {proc.stderr.read().decode()[-500:] if proc.stderr else ""}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f'{mode} server did not listen within 60 s')


@workload('web_serve')
def wl_web_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Requests/s of a minimal ASGI app through ``web.serve()`` and through plain ``uvicorn.run`` (both after
    ``init_framework``, access log off), the two servers alternating, best of ``--repeat`` runs each."""
    try:
        import uvicorn  # noqa: F401

        import scitrera_app_framework.web  # noqa: F401
    except ImportError as e:
        raise Unavailable(f'uvicorn or scitrera_app_framework.web missing: {e}') from e
    servers = {mode: _start_web(mode) for mode in ('serve', 'uvicorn')}
    best = {'serve': 0.0, 'uvicorn': 0.0}
    n = max(50, args.n)
    try:
        for _, port in servers.values():
            _hammer(port, min(n, 200), 4)  # warm-up
        for r in range(max(1, args.repeat)):
            order = ('serve', 'uvicorn') if r % 2 == 0 else ('uvicorn', 'serve')
            for mode in order:
                best[mode] = max(best[mode], _hammer(servers[mode][1], n, 8))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {'serve_per_s': round(best['serve'], 1), 'uvicorn_per_s': round(best['uvicorn'], 1), 'requests': n}


@workload('web_middleware')
def wl_web_middleware(args: argparse.Namespace) -> dict[str, Any]:
    """ns per request of a trivial ASGI app called directly, bare and wrapped in ``RequestContextMiddleware``
    (a request id from the header, bound to the log context, echoed on the response)."""
    import asyncio

    try:
        from scitrera_app_framework.web import RequestContextMiddleware
    except ImportError as e:
        raise Unavailable(f'scitrera_app_framework.web missing: {e}') from e

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'ok'})

    wrapped = RequestContextMiddleware(app, probes=False)
    scope = {'type': 'http', 'path': '/items', 'method': 'GET', 'headers': [(b'x-request-id', b'bench-1')]}

    async def receive() -> dict[str, Any]:
        return {'type': 'http.request', 'body': b''}

    async def send(message: dict[str, Any]) -> None:
        return None

    n = max(100, args.n)

    async def timed(target: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await target(scope, receive, send)
        return time.perf_counter() - t0

    async def run() -> tuple[float, float]:
        bare = mw = float('inf')
        rounds = max(1, args.repeat)
        deadline = time.perf_counter() + max(args.min_time, 0) * 2 * rounds
        r = 0
        while r < rounds or time.perf_counter() < deadline:
            bare = min(bare, await timed(app))
            mw = min(mw, await timed(wrapped))
            r += 1
        return bare, mw

    bare, mw = asyncio.run(run())
    return {'bare_ns': _ns(bare / n), 'middleware_ns': _ns(mw / n), 'cost_ns': _ns(max(mw - bare, 1e-9) / n)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('workload', choices=sorted(WORKLOADS))
    parser.add_argument('--n', type=int, default=1000, help='iterations (processes for import/init, tenants)')
    parser.add_argument('--min-time', type=float, default=0.0, help='scale iterations until a run lasts this long')
    parser.add_argument('--repeat', type=int, default=1, help='in-process repetitions; the best is kept')
    args = parser.parse_args(argv)
    result = run_workload(args.workload, args)
    sys.stdout.write(json.dumps(result) + '\n')
    sys.stdout.flush()
    sys.stderr.flush()
    # skip interpreter teardown (framework exit hooks, idle worker threads): the result is already out
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
