"""Differential scenario runner: one JSON scenario per stdin line, one JSON observation per stdout line.

Both the original release (in its own venv) and this package run THIS file, each importing whichever
``scitrera_app_framework`` its interpreter has. It is stdlib only and Python 3.9 compatible, and it uses only
names the original 0.0.69 exports, so the same scenario means the same calls on both sides.

A scenario is pure data: plugins are built here by class factories from their JSON description, packages of
plugin modules are written to a temporary directory from their JSON description. Every scenario runs against a
fresh ``Variables`` with the process environment restored afterwards.

Protocol: at start the runner writes ``{"hello": {...}}`` (which package file it imported, its version, the
python). Then for each input line ``{"id": ..., "scenario": {...}}`` it writes ``{"id": ..., "obs": {...}}``.
A scenario that breaks the runner itself answers ``{"id": ..., "runner_error": "<traceback>"}``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from typing import Any, Callable, Dict, List, Optional

# the protocol stream is a private copy of fd 1; anything the framework prints goes to stderr instead
_PROTO = os.fdopen(os.dup(1), 'w', buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

logging.disable(logging.CRITICAL)  # the original warns on every logger lookup without init; keep stderr quiet

import scitrera_app_framework as saf  # noqa: E402
from scitrera_app_framework import (  # noqa: E402
    Plugin,
    Variables,
    ext_parse_bool,
    get_extension,
    get_extensions,
    get_logger,
    init_all_plugins,
    register_plugin,
)
from scitrera_app_framework.api import EnvPlacement, enabled_option_pattern  # noqa: E402
from scitrera_app_framework.core import shutdown_all_plugins  # noqa: E402

RUNNER_MODULE = '__saf_dt_runner__'
sys.modules.setdefault(RUNNER_MODULE, sys.modules[__name__])

ENV_PREFIX = 'DT_'  # every environment variable a scenario sets starts with this


# ------------------------------------------------------------------------------------------------ observations

def family(exc: BaseException) -> str:
    """The first standard exception class in the MRO (ours are subclasses of the original's classes)."""
    for cls in type(exc).__mro__:
        if cls.__module__ == 'builtins' and cls not in (Exception, BaseException):
            return cls.__name__
    return 'Exception'


def safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe description of a value (types kept where JSON would blur them)."""
    if depth > 6:
        return {'$deep': type(value).__name__}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return {'$enum': safe(value.value, depth + 1)}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {'$float': repr(value)}
    if isinstance(value, logging.Logger):
        return {'$logger': value.name}
    if isinstance(value, dict):
        return {'$dict': [[safe(k, depth + 1), safe(x, depth + 1)] for k, x in value.items()]}
    if isinstance(value, (list, tuple)):
        return {'$' + type(value).__name__: [safe(x, depth + 1) for x in value]}
    if isinstance(value, (set, frozenset)):
        return {'$set': sorted(json.dumps(safe(x, depth + 1), sort_keys=True) for x in value)}
    if isinstance(value, Variables):
        return {'$variables': True}
    return {'$obj': type(value).__name__}


class Recorder:
    def __init__(self) -> None:
        self.events: List[List[Any]] = []  # compared: new, on_registration, initialize, shutdown, async hooks
        self.asks: List[List[Any]] = []  # is_enabled / is_multi_extension asks (informational)
        self.step = -1  # the scenario step running now (events are tagged with it)

    def event(self, *parts: Any) -> None:
        self.events.append([self.step] + [safe(p) for p in parts])


REC = Recorder()


# ------------------------------------------------------------------------------------------------ values from data

def make_value(spec: Any) -> Any:
    """A Python value from its JSON description (``{"$mock": true}``, ``{"$float": "1.5"}``, ...)."""
    if isinstance(spec, dict):
        if '$mock' in spec:
            from unittest.mock import MagicMock
            return MagicMock()
        if '$float' in spec:
            return float(spec['$float'])
        if '$bytes' in spec:
            return spec['$bytes'].encode()
        if '$list' in spec:
            return [make_value(x) for x in spec['$list']]
        if '$tuple' in spec:
            return tuple(make_value(x) for x in spec['$tuple'])
        if '$object' in spec:
            return object()
        if '$enum' in spec:
            return str_enum(spec['$enum'][0], spec['$enum'][1])
        if '$dict' in spec:
            return {k: make_value(x) for k, x in spec['$dict']}
        return {k: make_value(x) for k, x in spec.items()}
    if isinstance(spec, list):
        return [make_value(x) for x in spec]
    return spec


_ENUMS: Dict[str, Any] = {}


def str_enum(type_name: str, value: str) -> Any:
    """A member of a ``(str, Enum)`` type (one type per name per scenario)."""
    cls = _ENUMS.get(type_name)
    if cls is None or value not in [m.value for m in cls]:
        members = [m.value for m in cls] if cls is not None else []
        members.append(value)
        cls = enum.Enum(type_name, [(m.upper().replace('-', '_'), m) for m in members], type=str)  # type: ignore
        _ENUMS[type_name] = cls
    return cls(value)


TYPE_FNS: Dict[str, Callable[[Any], Any]] = {
    'int': int, 'float': float, 'str': str, 'bool': ext_parse_bool, 'csv': saf.ext_parse_csv,
    'upper': lambda x: str(x).upper(), 'len': lambda x: len(str(x)),
}


# ------------------------------------------------------------------------------------------------ plugins from data

def _truth(spec: Any, plugin: Any, v: Any) -> bool:
    """Evaluate an is_enabled / is_multi_extension description against ``v`` now."""
    if spec is True or spec is False:
        return spec
    if spec is None:
        return False
    kind = spec.get('kind')
    if kind == 'equals':  # v.get(key) == value
        return bool(v.get(spec['key']) == make_value(spec['value']))
    if kind == 'pattern':  # enabled_option_pattern(self, v, key, default=..., self_attr=...)
        kwargs: Dict[str, Any] = {}
        if 'default' in spec:
            kwargs['default'] = make_value(spec['default'])
        if spec.get('attr'):
            kwargs['self_attr'] = spec['attr']
        return bool(enabled_option_pattern(plugin, v, spec['key'], **kwargs))
    if kind == 'parse_bool':
        return bool(ext_parse_bool(v.get(spec['key'], spec.get('default'))))
    raise ValueError(f'unknown truth spec {spec!r}')


def _run_inner(ops: List[Dict[str, Any]], v: Any, me: Any) -> List[Any]:
    """Operations a plugin runs inside initialize / on_registration (results recorded as events)."""
    out = []
    for op in ops:
        out.append(run_op(op, v, me=me))
    return out


def plugin_class(spec: Dict[str, Any], module: Optional[str] = None, qualname: Optional[str] = None) -> type:
    """Build a Plugin subclass from its description."""
    explicit_name = spec.get('name')
    point = spec.get('point')
    single = spec.get('single', True)
    multi = spec.get('multi', False)
    deps = spec.get('deps', [])
    value = spec.get('value', explicit_name)
    label = spec.get('label') or explicit_name or qualname

    ns: Dict[str, Any] = {'eager': spec.get('eager', True)}
    for attr, aval in spec.get('attrs', {}).items():
        ns[attr] = make_value(aval)

    if explicit_name is not None:
        def name(self: Any) -> str:
            return explicit_name
        ns['name'] = name

    if point is not None:
        def extension_point_name(self: Any, v: Any) -> str:
            return point
        ns['extension_point_name'] = extension_point_name

    if 'single' in spec:
        def is_enabled(self: Any, v: Any) -> bool:
            answer = _truth(single, self, v)
            REC.asks.append(['is_enabled', label, answer])
            return answer
        ns['is_enabled'] = is_enabled

    if 'multi' in spec:
        def is_multi_extension(self: Any, v: Any) -> bool:
            answer = _truth(multi, self, v)
            REC.asks.append(['is_multi', label, answer])
            return answer
        ns['is_multi_extension'] = is_multi_extension

    if deps:
        def get_dependencies(self: Any, v: Any) -> Any:
            return list(deps)
        ns['get_dependencies'] = get_dependencies

    def __init__(self: Any) -> None:
        REC.event('new', label)
    ns['__init__'] = __init__

    def on_registration(self: Any, v: Any) -> None:
        REC.event('on_registration', label)
        for op in spec.get('on_registration', []):
            REC.event('on_registration_op', label, run_op(op, v, me=self))
    ns['on_registration'] = on_registration

    def initialize(self: Any, v: Any, logger: Any) -> Any:
        REC.event('initialize', label)
        inner = [run_op(op, v, me=self) for op in spec.get('init_ops', [])]
        if inner:
            REC.event('initialize_ops', label, inner)
        if spec.get('init_raises'):
            raise RuntimeError(f'{label} failed to initialize')
        return make_value(value)
    ns['initialize'] = initialize

    def shutdown(self: Any, v: Any, logger: Any, val: Any) -> None:
        REC.event('shutdown', label, val)
        if spec.get('shutdown_raises'):
            raise RuntimeError(f'{label} failed to shut down')
    ns['shutdown'] = shutdown

    if spec.get('async_hooks'):
        async def async_ready(self: Any, v: Any, logger: Any, value: Any) -> None:
            REC.event('async_ready', label, value)

        async def async_stopping(self: Any, v: Any, logger: Any, value: Any) -> None:
            REC.event('async_stopping', label, value)
        ns['async_ready'] = async_ready
        ns['async_stopping'] = async_stopping

    cls_name = qualname or ('P_' + ''.join(ch if ch.isalnum() else '_' for ch in (explicit_name or 'anon')))
    cls = type(cls_name, (Plugin,), ns)
    cls.__module__ = module or RUNNER_MODULE
    cls.__qualname__ = cls_name
    return cls


# ------------------------------------------------------------------------------------------------ operations

class Ctx:
    """What one scenario has built so far."""

    def __init__(self) -> None:
        self.classes: Dict[str, type] = {}
        self.v: Any = None
        self.vars: Dict[str, Any] = {}
        self.tmp: Optional[str] = None
        self.sys_path: List[str] = []
        self.modules_before: set = set()
        self.order: List[str] = []  # labels of the plugin classes in the order they were first instantiated
        self.cwd = ''  # the working directory when the scenario started (realpath)


CTX = Ctx()


def _v(op: Dict[str, Any], v: Any) -> Any:
    name = op.get('v')
    return CTX.vars[name] if name else v


def _kw(op: Dict[str, Any], *names: str) -> Dict[str, Any]:
    return {n: make_value(op[n]) for n in names if n in op}


def run_op(op: Dict[str, Any], v: Any, me: Any = None) -> Dict[str, Any]:
    """Run one operation; its observation is ``{"ok": value}`` or ``{"err": family}``."""
    try:
        return {'ok': safe(_op(op, v, me))}
    except BaseException as exc:  # noqa: BLE001 - a scenario may raise anything; that is what we observe
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not op.get('allow_exit'):
            raise
        out = {'err': family(exc), 'msg': str(exc)[:300]}
        if 'msg_has' in op:  # does the message hold these words (apps match on them)?
            out['msg_has'] = {op['msg_has']: op['msg_has'] in str(exc)}
        return out


def _op(op: Dict[str, Any], v: Any, me: Any) -> Any:  # noqa: C901 - one dispatch table
    name = op['op']
    tv = _v(op, v)
    # ------------------------------------------------------------------ registry
    if name == 'register':
        inst = register_plugin(CTX.classes[op['plugin']], tv, init=op.get('init', False))
        return {'name': inst.name(), 'collected': bool(inst.collected), 'initialized': bool(inst.initialized)}
    if name == 'get_extension':
        return get_extension(op['point'], tv)
    if name == 'get_extensions':
        return get_extensions(op['point'], tv)
    if name == 'get_extensions_values':  # what an app iterating the result sees, whatever the container
        got = get_extensions(op['point'], tv)
        return list(got.values()) if isinstance(got, dict) else list(got)
    if name == 'init_all':
        kwargs = {'async_enabled': op['async_enabled']} if 'async_enabled' in op else {}
        return init_all_plugins(tv, **kwargs)
    if name == 'shutdown_all':
        kwargs = {'async_enabled': op['async_enabled']} if 'async_enabled' in op else {}
        return shutdown_all_plugins(tv, **kwargs)
    if name == 'async_ready':
        return asyncio.run(saf.async_plugins_ready(tv))
    if name == 'async_stopping':
        return asyncio.run(saf.async_plugins_stopping(tv))
    if name == 'async_lifespan':  # a web server's lifespan: ready at start, stopping then shutdown at the end
        async def lifespan() -> None:
            await saf.async_plugins_ready(tv)
            REC.event('serving')
            await saf.async_plugins_stopping(tv)
        asyncio.run(lifespan())
        return shutdown_all_plugins(tv)
    if name == 'flags':  # collected / initialized of the registered instances
        return {label: {'collected': bool(cls._dt_first.collected), 'initialized': bool(cls._dt_first.initialized)}
                for label, cls in CTX.classes.items() if getattr(cls, '_dt_first', None) is not None}
    if name == 'my_extension':  # a plugin's get_my_extension (inside its own hooks)
        return me.get_my_extension(tv)
    if name == 'register_package':
        saf.register_package_plugins(op['package'], tv, recursive=op.get('recursive', False))
        return None
    if name == 'import_modules':
        from scitrera_app_framework.util import import_modules
        return [m.__name__ for m in import_modules(op['package'], recursive=op.get('recursive', True))]
    if name == 'registered_names':  # plugin names in the order their classes were instantiated first
        return [label for label in CTX.order]
    # ------------------------------------------------------------------ Variables
    if name == 'new_v':
        kwargs: Dict[str, Any] = {}
        if 'sources' in op:
            kwargs['sources'] = [make_value(s) if not isinstance(s, str) else CTX.vars[s] for s in op['sources']]
        if 'env_placement' in op:
            kwargs['env_placement'] = EnvPlacement[op['env_placement']]
        CTX.vars[op['name']] = Variables(**kwargs)
        return None
    if name == 'set':
        return tv.set(op['key'], make_value(op['value']))
    if name == 'setitem':
        tv[op['key']] = make_value(op['value'])
        return None
    if name == 'set_default':
        return tv.set_default_value(op['key'], make_value(op['value']))
    if name == 'set_type_fn':
        return tv.set_type_fn(op['key'], TYPE_FNS[op['type_fn']])
    if name == 'get':
        args = [make_value(op['default'])] if 'default' in op else []
        return tv.get(op['key'], *args)
    if name == 'getitem':
        return tv[op['key']]
    if name == 'environ':
        kwargs = _kw(op, 'default')
        if 'type_fn' in op:
            kwargs['type_fn'] = TYPE_FNS[op['type_fn']]
        return tv.environ(op['key'], **kwargs)
    if name == 'get_or_set':
        val = make_value(op['value'])
        return tv.get_or_set(op['key'], lambda: val)
    if name == 'contains':
        return op['key'] in tv
    if name == 'update':
        return tv.update(make_value(op['values']))
    if name == 'add_source':
        src = op['source']
        return tv.add_source(CTX.vars[src] if isinstance(src, str) else make_value(src))
    if name == 'getattr':
        return getattr(tv, op['attr'])
    if name == 'setattr':
        setattr(tv, op['attr'], make_value(op['value']))
        return None
    if name in ('get_by_prefix', 'import_from_env_by_prefix'):
        kwargs = _kw(op, 'sep', 'drop_prefix', 'prefix_lower', 'key_lower')
        return getattr(tv, name)(op['prefix'], **kwargs)
    if name == 'import_from_dict_by_prefix':
        kwargs = _kw(op, 'sep', 'drop_prefix', 'prefix_lower', 'key_lower')
        return tv.import_from_dict_by_prefix(op['prefix'], make_value(op['source']), **kwargs)
    if name == 'scenario_keys':  # keys() restricted to what the scenario itself named (the environment is shared)
        return sorted(k for k in tv.keys() if k.lower().startswith(tuple(p.lower() for p in op['prefixes'])))
    if name == 'export':
        exported = tv.export_all_variables()
        return sorted([k, safe(x)] for k, x in exported.items()
                      if k.lower().startswith(tuple(p.lower() for p in op['prefixes'])))
    if name == 'add_env_file_source':
        path = os.path.join(_tmp(), op['file'])
        with open(path, 'w') as fh:
            fh.write(op['text'])
        return saf.add_env_file_source(path, tv)
    # ------------------------------------------------------------------ helpers
    if name == 'parse_bool':
        return ext_parse_bool(make_value(op['value']))
    if name == 'get_logger_stand_in':  # get_logger with an object that only has .get
        class StandIn:
            def __init__(self, data: Dict[str, Any]) -> None:
                self._data = data

            def get(self, key: str, default: Any = None) -> Any:
                return self._data.get(key, default)
        return get_logger(StandIn({}), name=op['name'])
    if name == 'get_logger':
        return get_logger(tv, name=op.get('name'))
    if name == 'init_framework_desktop':
        logger = logging.getLogger(op.get('logger', 'dt-app'))
        kwargs = dict(base_plugins=False, stateful_chdir=True, stateful_root_env_key='APP_DATA_DIR',
                      async_auto_enabled=False, v=tv, fault_handler=False, fixed_logger=logger, pyroscope=False,
                      shutdown_hooks=False)
        got = saf.init_framework_desktop(op['app'], **kwargs)
        return {'same_v': got is tv, 'cwd_in_data_dir': os.getcwd().startswith(os.environ.get('APP_DATA_DIR', '\0'))}
    if name == 'set_extension':  # a plain-function extension point (the original's facade plugin)
        point, val = op['point'], make_value(op.get('value'))

        def init_fn() -> Any:
            REC.event('facade_init', point)
            return val

        def shutdown_fn() -> None:
            REC.event('facade_shutdown', point)
        from scitrera_app_framework.core import set_extension
        p = set_extension(point, init_fn, shutdown_fn, op.get('deps'), v=tv)
        return {'name': p.name(), 'eager': bool(p.eager)}
    if name == 'get_extension_by_type':  # get_extension(PluginClass, v)
        return get_extension(CTX.classes[op['plugin']], tv)
    if name == 'get_extension_default_v':  # get_extension(point) with no v: the default Variables
        return get_extension(op['point'])
    if name == 'parse_csv':
        return saf.ext_parse_csv(make_value(op['value']))
    if name == 'init_framework_variant':  # init_framework_embedded / _test_harness with the same v
        fn = getattr(saf, op['fn'])
        got = fn(op['app'], v=tv, **make_value(op.get('kwargs', {})))
        return {'same_v': got is tv, 'cwd_unchanged': os.path.realpath(os.getcwd()) == CTX.cwd,
                'logger': get_logger(tv).name}
    if name == 'hang':  # for the harness's own test: a scenario that never answers
        import threading
        threading.Event().wait()
    if name == 'cwd_rel':  # where the working directory is now: unchanged, or relative to APP_DATA_DIR
        cwd, data = os.path.realpath(os.getcwd()), os.path.realpath(os.environ['APP_DATA_DIR'])
        if cwd == CTX.cwd:
            return 'unchanged'
        return os.path.relpath(cwd, data) if cwd.startswith(data) else 'elsewhere'
    raise ValueError(f'unknown op {name!r}')


def _tmp() -> str:
    if CTX.tmp is None:
        CTX.tmp = tempfile.mkdtemp(prefix='saf-dt-')
    return CTX.tmp


# ------------------------------------------------------------------------------------------------ packages from data

def write_package(spec: Dict[str, Any]) -> None:
    """Write ``{"name": pkg, "modules": {"sub/mod": [plugin specs...]}}`` as importable source files."""
    root = _tmp()
    pkg = spec['name']
    for rel, plugins in spec['modules'].items():
        parts = [pkg] + rel.split('/')
        for i in range(1, len(parts)):
            d = os.path.join(root, *parts[:i])
            os.makedirs(d, exist_ok=True)
            init = os.path.join(d, '__init__.py')
            if not os.path.exists(init):
                open(init, 'w').close()
        lines = [f'import {RUNNER_MODULE} as _r', '']
        for p in plugins:
            cls = p['class']
            lines.append(f'{cls} = _r.package_plugin({json.dumps(json.dumps(p))}, __name__, {cls!r})')
        lines += [f'from {imp} import {what}' for imp, what in spec.get('imports', {}).get(rel, [])]
        with open(os.path.join(root, *parts[:-1], parts[-1] + '.py'), 'w') as fh:
            fh.write('\n'.join(lines) + '\n')
    if root not in sys.path:
        sys.path.insert(0, root)
        CTX.sys_path.append(root)


def package_plugin(spec_json: str, module: str, qualname: str) -> type:
    spec = json.loads(spec_json)
    cls = plugin_class(spec, module=module, qualname=qualname)
    _track(spec.get('label') or spec.get('name') or f'{module}.{qualname}', cls)
    return cls


def _track(label: str, cls: type) -> None:
    CTX.classes[label] = cls
    orig_init = cls.__init__

    def tracked_init(self: Any) -> None:
        if getattr(cls, '_dt_first', None) is None:
            cls._dt_first = self  # type: ignore[attr-defined]
            CTX.order.append(label)
        orig_init(self)
    cls.__init__ = tracked_init  # type: ignore[misc]


# ------------------------------------------------------------------------------------------------ one scenario

def run_scenario(sc: Dict[str, Any]) -> Dict[str, Any]:
    global CTX, REC, _ENUMS
    CTX, REC, _ENUMS = Ctx(), Recorder(), {}
    CTX.modules_before = set(sys.modules)
    env_before = dict(os.environ)
    cwd_before = os.getcwd()
    CTX.cwd = os.path.realpath(cwd_before)
    try:
        for key, val in sc.get('env', {}).items():
            os.environ[key] = val
        if 'env_files' in sc:
            for fname, text in sc['env_files'].items():
                with open(os.path.join(_tmp(), fname), 'w') as fh:
                    fh.write(text)
        if 'data_dir' in sc:
            os.environ['APP_DATA_DIR'] = os.path.join(_tmp(), sc['data_dir'])
        for p in sc.get('plugins', []):
            _track(p.get('label') or p['name'], plugin_class(p))
        if 'package' in sc:
            write_package(sc['package'])
        v = Variables(**({'env_placement': EnvPlacement[sc['env_placement']]} if 'env_placement' in sc else {}))
        CTX.v = v
        CTX.vars['v'] = v
        results = []
        for i, op in enumerate(sc.get('steps', [])):
            REC.step = i
            results.append(run_op(op, v))
            if op.get('flags'):
                results[-1] = dict(results[-1], flags=run_op({'op': 'flags'}, v))
        return {'results': results, 'events': REC.events, 'asks': REC.asks}
    finally:
        os.chdir(cwd_before)
        os.environ.clear()
        os.environ.update(env_before)
        for p in CTX.sys_path:
            while p in sys.path:
                sys.path.remove(p)
        for m in set(sys.modules) - CTX.modules_before:
            if m.startswith(sc.get('package', {}).get('name', '\0')):
                del sys.modules[m]
        if CTX.tmp is not None:
            shutil.rmtree(CTX.tmp, ignore_errors=True)


def hello() -> Dict[str, Any]:
    try:
        from importlib.metadata import version
        ver = version('scitrera-app-framework')
    except Exception:  # noqa: BLE001
        ver = getattr(saf, '__version__', '?')
    return {'file': saf.__file__, 'version': ver, 'python': sys.version.split()[0], 'executable': sys.executable}


def main() -> None:
    _PROTO.write(json.dumps({'hello': hello()}) + '\n')
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        try:
            out = {'id': msg['id'], 'obs': run_scenario(msg['scenario'])}
        except BaseException:  # noqa: BLE001
            out = {'id': msg['id'], 'runner_error': traceback.format_exc()[-3000:]}
        _PROTO.write(json.dumps(out, sort_keys=True) + '\n')


if __name__ == '__main__':
    main()
