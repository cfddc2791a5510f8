"""Typed settings: the :class:`Settings` base class, loading through a :class:`Variables`, and the one error.

The public surface is :mod:`scitrera_app_framework.settings`; this module holds the machinery.

How a load works: the first time a class is used its annotations are resolved (``typing.get_type_hints``, so
string annotations work on Python 3.9) into fields, and a *plan* is compiled for its prefix: one step per field
with its variable name and type function, one nested plan per settings group. Loading runs the plan: each field
is read with ``v.environ(NAME, default, type_fn)`` (which registers the default and the type function with the
Variables), every problem is collected, unknown variables under the prefixes are looked for, and either the
object is returned or one :class:`SettingsError` lists everything that is wrong. The values are stored as plain
instance attributes, so reading one costs what reading any attribute does.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
import sys
import threading
import weakref
from enum import Enum
from typing import Any, Callable, ClassVar, NamedTuple, Optional, Sequence, TypeVar, get_origin, get_type_hints

from ._settings_types import (
    InvalidValue,
    Secret,
    TypeFn,
    secret_inner,
    split_optional,
    strip_annotated,
    type_fn,
    type_name,
)
from .api.constants import NO_MATCH, NOT_SET, EnvPlacement, is_epp
from .api.variables import RequiredVariableError, Variables, VariableTypeError
from .exceptions import ConfigurationError
from .util import _environ
from .util.secrets import (
    MASK,
    add_secret_values,
    bounded_repr,
    is_secret_key,
    mark_secret_key,
    mask_text,
    mask_value,
    shown_value,
)

S = TypeVar('S', bound='Settings')

_log = logging.getLogger('saf.config')


class _Unknown(str, Enum):
    """What a settings class does with a variable under its prefix that no field reads (``unknown=``)."""

    WARN = 'warn'
    FAIL = 'fail'
    IGNORE = 'ignore'


_UNKNOWN_POLICIES = tuple(p.value for p in _Unknown)
_IMMUTABLE = (str, int, float, bool, bytes, type(None), tuple, frozenset, complex)
#: names a field cannot have: the methods and attributes of Settings itself
_RESERVED = frozenset(('load', 'reload', 'to_dict', 'describe', 'variables'))


# ----------------------------------------------------------------------------------------------------------------------
# errors


_SOURCE_TEXT = {'environment': 'the environment', 'local': 'a local value', 'default': 'the default',
                'argument': 'the argument', 'cli': 'the command line'}


class SettingsProblem(NamedTuple):
    """One problem found while loading settings.

    ``kind`` is ``'missing'`` (a required field has no value), ``'invalid'`` (a value cannot be converted) or
    ``'unknown'`` (a variable under the settings' prefix that no field reads). ``value`` is the offending value as
    quoted in the message (masked for secrets, at most 200 characters), never the raw value.
    """

    variable: str
    kind: str
    message: str
    value: Optional[str] = None
    expected: Optional[str] = None
    field: Optional[str] = None
    source: Optional[str] = None

    def describe(self) -> str:
        """The problem as one line: variable name, what is wrong, the (masked) value and the expected type."""
        where = f' ({self.field})' if self.field else ''
        if self.kind == 'missing':
            text = f'missing: {self.message}'
        elif self.kind == 'unknown':
            text = f'unknown variable: {self.message}'
        else:
            src = f' from {_SOURCE_TEXT.get(self.source, self.source)}' if self.source else ''
            text = f'invalid value {self.value}{src}: {self.message}'
        if self.expected:
            text += f' (expected {self.expected})'
        return f'{self.variable}{where}: {text}'


class SettingsError(ConfigurationError):
    """Settings could not be loaded: every missing required field, every bad value and (with ``unknown='fail'``)
    every unknown variable, one per line. ``.errors`` holds them as :class:`SettingsProblem` items and
    ``.settings`` names the settings class.

    A ``ConfigurationError``, so also a ``ValueError`` and a ``SAFError``. Values are masked for secrets and cut
    to 200 characters; the raw values are not kept.
    """

    def __init__(self, settings: str, errors: Sequence[SettingsProblem], message: Optional[str] = None) -> None:
        self.settings = settings
        self.errors = list(errors)
        self._message = message
        if message is None:
            n = len(self.errors)
            head = f'{settings}: {n} configuration problem{"s" if n != 1 else ""}'
            message = '\n'.join([head + ':'] + [f'  {p.describe()}' for p in self.errors])
        super().__init__(message)

    def __reduce__(self) -> Any:
        return (type(self), (self.settings, self.errors, self._message))


# ----------------------------------------------------------------------------------------------------------------------
# fields


class FieldInfo:
    """What :func:`field` returns: a field's default (or default factory), help text, and variable name or group
    prefix override. Placed as the class attribute's value: ``port: int = field(5432, help='listen port')``."""

    __slots__ = ('default', 'default_factory', 'help', 'env', 'prefix')

    def __init__(self, default: Any = NOT_SET, default_factory: Optional[Callable[[], Any]] = None,
                 help: Optional[str] = None, env: Optional[str] = None, prefix: Optional[str] = None) -> None:
        if default is not NOT_SET and default_factory is not None:
            raise TypeError('field(): give a default or a default_factory, not both')
        self.default, self.default_factory, self.help, self.env, self.prefix = (
            default, default_factory, help, env, prefix)

    def __repr__(self) -> str:
        parts = [] if self.default is NOT_SET else [f'default={self.default!r}']
        for name in ('default_factory', 'help', 'env', 'prefix'):
            if getattr(self, name) is not None:
                parts.append(f'{name}={getattr(self, name)!r}')
        return f"field({', '.join(parts)})"


def field(default: Any = NOT_SET, *, default_factory: Optional[Callable[[], Any]] = None,
          help: Optional[str] = None, env: Optional[str] = None, prefix: Optional[str] = None) -> Any:
    """Declare a settings field with more than a default.

    Args:
        default: the default value (omit for a required field).
        default_factory: called at each load for a fresh default (``default_factory=list``).
        help: the field's help text (shown by :meth:`Settings.describe`); ``Annotated[int, 'help']`` works too.
        env: the variable's full name, instead of ``PREFIX_FIELD`` (the prefix is not added).
        prefix: for a settings group, its prefix (joined to the parent's) instead of the group class's prefix or
            the field name; lets one group class be used twice (``primary: Db = field(prefix='PRIMARY')``).

    Returns:
        a :class:`FieldInfo` (typed ``Any`` so that ``port: int = field(5432)`` type-checks).
    """
    return FieldInfo(default, default_factory, help, env, prefix)


class _Field:
    """A resolved field of one settings class."""

    __slots__ = ('name', 'annotation', 'type_name', 'default', 'factory', 'help', 'env', 'prefix', 'group', 'fn',
                 'secret', 'optional', 'required', 'copy_default')

    def __init__(self, owner: type, name: str, hint: Any, info: FieldInfo) -> None:
        tp, meta = strip_annotated(hint)
        self.name = name
        self.annotation = hint
        self.type_name = type_name(tp)
        self.help = info.help if info.help is not None else next((m for m in meta if isinstance(m, str)), None)
        self.env = info.env
        self.prefix = info.prefix
        self.factory = info.default_factory
        where = f'{_name(owner)}.{name}'
        inner, optional = split_optional(tp)
        self.group: Optional[type[Settings]] = None
        if _is_settings_class(tp):
            if info.default is not NOT_SET or info.default_factory is not None:
                raise TypeError(f'{where}: a settings group takes no default (its fields have theirs)')
            if info.env is not None:
                raise TypeError(f'{where}: a settings group has a prefix, not a variable: use field(prefix=...)')
            self.group = tp
        elif _is_settings_class(inner):
            raise TypeError(f'{where}: a settings group cannot be Optional (a group is always loaded)')
        elif info.prefix is not None:
            raise TypeError(f'{where}: prefix= is for settings groups; a field takes env= for its variable name')
        self.secret = secret_inner(inner) is not None
        self.optional = optional
        default = info.default
        if default is NOT_SET and info.default_factory is None and optional:
            default = None  # Optional[...] without a default: absent gives None
        self.default = default
        self.required = default is NOT_SET and info.default_factory is None and self.group is None
        self.copy_default = default is not NOT_SET and not isinstance(default, _IMMUTABLE)
        self.fn: Optional[TypeFn] = None if self.group is not None else type_fn(tp, where, unwrap_secret=True)

    def default_value(self) -> Any:
        """The default for one load (a fresh one from the factory, when there is one)."""
        return self.factory() if self.factory is not None else self.default


def _name(cls: type) -> str:
    """The class's qualified name without the ``<locals>`` of a class defined in a function."""
    return cls.__qualname__.rsplit('<locals>.', 1)[-1]


def _is_settings_class(tp: Any) -> bool:
    # get_origin: on Python < 3.11 ``list[int]`` passes isinstance(..., type) but not issubclass
    return isinstance(tp, type) and get_origin(tp) is None and issubclass(tp, Settings)


class _ClassInfo:
    """Per-class declaration: prefix, unknown-key policy, the raw defaults and (once resolved) the fields."""

    __slots__ = ('prefix', 'unknown', 'raw', 'localns', 'fields', 'plans', 'lock')

    def __init__(self, prefix: Optional[str], unknown: _Unknown, raw: dict[str, FieldInfo],
                 localns: Optional[dict[str, Any]]) -> None:
        self.prefix = prefix
        self.unknown = unknown
        self.raw = raw
        self.localns = localns
        self.fields: Optional[tuple[_Field, ...]] = None
        self.plans: dict[str, _Plan] = {}
        self.lock = threading.Lock()


def _norm_prefix(prefix: Optional[str]) -> Optional[str]:
    if prefix is None:
        return None
    if not isinstance(prefix, str):
        raise TypeError(f'a settings prefix must be a string, got {type(prefix).__name__}')
    p = prefix.strip().strip('_').upper()
    return p or None


def _join(prefix: str, name: str) -> str:
    return f'{prefix}_{name}' if prefix else name


def _info(cls: type) -> _ClassInfo:
    info: Optional[_ClassInfo] = cls.__dict__.get('_saf_info')
    if info is None:  # Settings itself, or a class whose __init_subclass__ was bypassed
        raise TypeError(f'{_name(cls)} is not a settings class: subclass Settings and annotate fields')
    return info


def _fields(cls: type) -> tuple[_Field, ...]:
    """The resolved fields of ``cls`` (annotations resolved on first use, so forward references work)."""
    info = _info(cls)
    fields = info.fields
    if fields is not None:
        return fields
    localns: dict[str, Any] = {}
    raw: dict[str, FieldInfo] = {}
    for base in reversed(cls.__mro__):
        binfo = base.__dict__.get('_saf_info')
        if binfo is None:
            continue
        localns.update(binfo.localns or {})
        localns.update({k: val for k, val in vars(base).items() if not k.startswith('__')})
        raw.update(binfo.raw)
    try:
        try:
            hints = get_type_hints(cls, localns=localns, include_extras=True)
        except KeyError:  # Python 3.9: a class whose module is not in sys.modules (exec'd code)
            globalns: dict[str, Any] = {}
            for base in cls.__mro__:
                module = sys.modules.get(base.__module__)
                if module is not None:
                    globalns = {**vars(module), **globalns}
            hints = get_type_hints(cls, globalns={**globalns, **localns}, localns=localns, include_extras=True)
    except NameError as e:
        raise TypeError(f'{_name(cls)}: cannot resolve an annotation ({e}); define or import the type before '
                        f'the settings are loaded') from e
    out = []
    for name, hint in hints.items():
        if name.startswith('_') or hint is ClassVar or get_origin(strip_annotated(hint)[0]) is ClassVar:
            continue
        if name in _RESERVED:
            raise TypeError(f'{_name(cls)}.{name}: {name!r} is a Settings method; name the field otherwise '
                            f'(field(env=...) keeps the variable name)')
        out.append(_Field(cls, name, hint, raw.get(name) or FieldInfo()))
    info.fields = tuple(out)
    return info.fields


# ----------------------------------------------------------------------------------------------------------------------
# plans: one per (class, prefix)


class _Step(NamedTuple):
    """One step of a plan: a field, its variable name (a group's: its prefix) and, for a group, its plan."""

    field: _Field
    name: str
    child: Optional[_Plan]


class _Group:
    """The variables under one prefix of a plan (the class's own, or a group's): for the unknown-key check."""

    __slots__ = ('start', 'policy', 'cls_name', 'names')

    def __init__(self, start: str, policy: _Unknown, cls_name: str, names: list[str]) -> None:
        self.start = start  # the prefix and '_', upper case
        self.policy = policy
        self.cls_name = cls_name
        self.names = names  # the variable names the class's fields (its groups' included) read, sorted


class _ScanCache:
    """The last scan for names under a plan's prefixes, and the key and environment names it was made from."""

    __slots__ = ('keys', 'env', 'hits')

    def __init__(self, keys: frozenset[Any], env: frozenset[Any], hits: frozenset[str]) -> None:
        self.keys, self.env, self.hits = keys, env, hits


class _UnknownKey(NamedTuple):
    """A variable under one of a plan's prefixes that no field reads (sorted as a tuple: by key first)."""

    key: str
    policy: _Unknown
    cls_name: str
    suggestion: Optional[str]


class _Plan:
    """The compiled load of one settings class under one prefix."""

    __slots__ = ('cls', 'prefix', 'steps', 'names', 'secret_names', 'groups', 'fields_by_name', 'starts',
                 'env_starts', 'scan_cache', 'checks_unknown', 'declared', '__weakref__')
    names: frozenset[str]
    secret_names: tuple[str, ...]
    groups: tuple[_Group, ...]

    def __init__(self, cls: type[Settings], prefix: str) -> None:
        self.cls = cls
        self.prefix = prefix
        steps: list[_Step] = []
        names: set[str] = set()
        secrets: list[str] = []
        groups: list[_Group] = []  # most specific (longest prefix) first
        own: list[str] = []
        for f in _fields(cls):
            if f.group is not None:
                gprefix = _norm_prefix(f.prefix) or _info(f.group).prefix or f.name.upper()
                child = _plan(f.group, _join(prefix, gprefix))
                steps.append(_Step(f, child.prefix, child))
                names |= child.names
                secrets += child.secret_names
                groups += child.groups
                own += child.names
            else:
                name = f.env or _join(prefix, f.name.upper())
                steps.append(_Step(f, name, None))
                names.add(name)
                own.append(name)
                if f.secret:
                    secrets.append(name)
        if prefix:
            groups.append(_Group(prefix.upper() + '_', _info(cls).unknown, _name(cls), sorted(own)))
        groups.sort(key=lambda g: -len(g.start))
        self.steps = tuple(steps)
        self.names = frozenset(names)
        self.secret_names = tuple(dict.fromkeys(secrets))
        self.groups = tuple(groups)
        self.fields_by_name = {s.field.name: s for s in steps}
        self.checks_unknown = any(g.policy is not _Unknown.IGNORE for g in self.groups)
        self.starts = tuple(g.start for g in self.groups)
        self.env_starts: Optional[tuple[Any, ...]] = None  # the same, encoded like the raw environment names
        if _environ.FAST and _environ.ENCODE is not None:
            try:
                self.env_starts = tuple(_environ.ENCODE(p) for p in self.starts)
            except (UnicodeError, ValueError, TypeError):
                pass
        self.scan_cache: Optional[_ScanCache] = None
        #: the Variables this plan's fields were declared to (help, secret, required): later loads skip that
        self.declared: weakref.WeakSet[Variables] = weakref.WeakSet()


def _plan(cls: type[Settings], prefix: Optional[str] = None) -> _Plan:
    info = _info(cls)
    key = (info.prefix or '') if prefix is None else prefix
    plan = info.plans.get(key)
    if plan is None:
        with info.lock:
            plan = info.plans.get(key)
            if plan is None:
                plan = info.plans[key] = _Plan(cls, key)
    return plan


# ----------------------------------------------------------------------------------------------------------------------
# loading


def _mark_secrets(plan: _Plan) -> None:
    for name in plan.secret_names:
        if not is_secret_key(name):
            mark_secret_key(name)


def _invalid(f: _Field, name: str, path: str, error: BaseException, v: Optional[Variables]) -> SettingsProblem:
    raw: Any = NO_MATCH
    layer: Optional[str] = None
    original: BaseException = error
    if isinstance(error, VariableTypeError):
        raw, layer = error.raw, error.layer
        original = error.original if isinstance(error.original, BaseException) else error
    elif v is not None:
        raw, layer = v.find(name)
    if isinstance(original, InvalidValue):
        what = str(original)
    elif f.secret or is_secret_key(name):
        what = f'cannot be converted ({type(original).__name__})'
    else:
        what = f'{type(original).__name__}: {mask_text(bounded_repr(str(original), 200))}'
    if raw is NO_MATCH:
        shown = None
    elif f.secret and raw is not None and raw != '':
        shown = MASK
    else:
        shown = shown_value(name, raw)
    return SettingsProblem(name, 'invalid', what, shown, f.type_name, path, layer)


def _missing(f: _Field, name: str, path: str, v: Optional[Variables], empty: bool = False) -> SettingsProblem:
    if v is None:  # built from values (the constructor), not loaded
        return SettingsProblem(name, 'missing', f'required; pass {f.name}=...' if not empty else
                               f'required but empty; pass a value for {f.name}', "''" if empty else None,
                               f.type_name, path, None)
    places = '; '.join(v.lookup_places(name))  # every place a value could have come from, in lookup order
    if empty:
        return SettingsProblem(name, 'missing', f'required but empty; give {name} a value in one of: {places}', "''",
                               f.type_name, path, None)
    return SettingsProblem(name, 'missing', f'required and has no default; set it in one of: {places}', None,
                           f.type_name, path, None)


def _run(plan: _Plan, v: Variables, problems: list[SettingsProblem], path: str) -> Settings:
    """Resolve every field of ``plan`` through ``v``; returns a new bound object (problems appended).

    The first load into a Variables also declares each field (help, secret, required); later loads pass only the
    default and the type function (the declaration persists in ``v``).
    """
    cls = plan.cls
    obj = cls.__new__(cls)
    set_ = object.__setattr__
    environ = v.environ
    declare = v not in plan.declared
    for f, name, child in plan.steps:
        if child is not None:
            val: Any = _run(child, v, problems, f'{path}{f.name}.')
        else:
            default = f.default if f.factory is None else f.factory()
            try:
                if declare:
                    val = environ(name, default, f.fn, help=f.help, secret=f.secret, required=f.required)
                else:
                    val = environ(name, default, f.fn)
            except Exception as e:
                if isinstance(e, RequiredVariableError):
                    problems.append(_missing(f, name, path + f.name, v))
                else:
                    problems.append(_invalid(f, name, path + f.name, e, v))
                val = None
            else:
                if val is None:
                    if f.required:
                        problems.append(_missing(f, name, path + f.name, v))
                elif f.required and val.__class__ is str and not val:  # NAME= (set, but to nothing)
                    problems.append(_missing(f, name, path + f.name, v, empty=True))
                elif f.secret:
                    val = Secret(val)
                elif f.copy_default and val is default:
                    val = copy.deepcopy(val)  # a mutable default is never shared between objects
        set_(obj, f.name, val)
    set_(obj, '_saf_vars', v)
    set_(obj, '_saf_prefix', plan.prefix)
    if declare:
        plan.declared.add(v)
    return obj


def _under_prefixes(plan: _Plan, v: Variables) -> frozenset[str]:
    """The keys of ``v`` and the environment names that start with one of the plan's group prefixes, in any case
    (not yet checked against the fields).

    The names rarely change between loads, so the result is cached per plan against the set of names it was
    computed from; comparing two sets is far cheaper than matching every name again.
    """
    keys = frozenset(v.keys())
    data, decode = _environ.DATA, _DECODE_KEY
    raw = _environ.FAST and data is not None and decode is not None
    if v.env_placement is EnvPlacement.IGNORED:
        env: frozenset[Any] = frozenset()
    else:
        env = frozenset(list(data) if raw else list(os.environ))  # type: ignore[arg-type]
    cached = plan.scan_cache
    if cached is not None and cached.keys == keys and cached.env == env:
        return cached.hits
    starts, env_starts = plan.starts, plan.env_starts
    hits = {k for k in keys if k.__class__ is str and k.upper().startswith(starts)}
    if raw and env_starts is not None:
        hits.update(decode(k) for k in env if k.upper().startswith(env_starts))  # type: ignore[misc]
    else:
        hits.update(k for k in env if k.__class__ is str and k.upper().startswith(starts))
    result = frozenset(hits)
    plan.scan_cache = _ScanCache(keys, env, result)
    return result


_DECODE_KEY = _environ.DECODE_KEY  # os.environ's internals stay behind util._environ


def _declared_by_code(v: Variables, key: str) -> bool:
    """True when code registered a default or a type function for ``key`` (it is declared, not a typo)."""
    return key in v.registered_keys()


def _unknown(plan: _Plan, v: Variables) -> list[_UnknownKey]:
    """Each variable under one of the plan's prefixes that no field reads, sorted (policy 'ignore' left out)."""
    if not plan.checks_unknown:
        return []
    out = []
    for key in _under_prefixes(plan, v) - plan.names:
        if is_epp(key):
            continue
        up = key.upper()
        for g in plan.groups:
            if up.startswith(g.start) and len(up) > len(g.start):
                if g.policy is not _Unknown.IGNORE and not _declared_by_code(v, key):
                    out.append(_UnknownKey(key, g.policy, g.cls_name, _suggest(up, g.start, g.names)))
                break
    out.sort()
    return out


def _suggest(up: str, gprefix: str, gnames: list[str]) -> Optional[str]:
    """The field variable closest to ``up`` (difflib's shortlist, ties broken by edit distance), or None."""
    close = difflib.get_close_matches(up, gnames, n=3, cutoff=0.7)
    if not close:
        return None
    return min(close, key=lambda name: (_edits(up[len(gprefix):], name[len(gprefix):]), name))


def _edits(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit (``HOTS`` -> ``HOST`` is 1)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _unknown_problem(key: str, cls_name: str, suggestion: Optional[str]) -> SettingsProblem:
    hint = f'; did you mean {suggestion}?' if suggestion else ''
    if suggestion and suggestion == key.upper():
        hint = f'; variable names are upper case: did you mean {suggestion}?'
    return SettingsProblem(key, 'unknown', f'no field of {cls_name} reads it{hint}')


def _warn_unknown(plan: _Plan, v: Variables, items: list[_UnknownKey]) -> None:
    from .core.context import get_app_context  # here: importing settings does not load core

    ctx = get_app_context(v)
    with ctx.lock:
        done = ctx.settings_warned
        if done is None:
            done = ctx.settings_warned = set()
        new = [it for it in items if it.key not in done]
        done.update(it.key for it in new)
    if not new:
        return
    parts = []
    for key, _policy, _cls, suggestion in new:
        if suggestion and suggestion == key.upper():
            parts.append(f'{key} (names are upper case: did you mean {suggestion}?)')
        else:
            parts.append(f'{key} (did you mean {suggestion}?)' if suggestion else key)
    _log.warning('%s: %d unknown variable%s under its prefix, not read by any field: %s; fix the name, or set '
                 "unknown='ignore' (or 'fail') on the settings class", _name(plan.cls), len(new),
                 's' if len(new) != 1 else '', ', '.join(parts))


def load_settings(cls: type[S], v: Optional[Variables] = None, prefix: Optional[str] = None) -> S:
    """Resolve every field of ``cls`` through ``v`` (None: the default Variables); see :meth:`Settings.load`.

    Raises:
        SettingsError: listing every missing required field, every bad value and every unknown variable of a
            class declared ``unknown='fail'``.
    """
    if v is None:
        from .core.defaults import get_variables

        v = get_variables()
    plan = _plan(cls, prefix)
    _mark_secrets(plan)
    problems: list[SettingsProblem] = []
    obj = _run(plan, v, problems, '')
    unknown = _unknown(plan, v)
    if unknown:
        problems += [_unknown_problem(u.key, u.cls_name, u.suggestion) for u in unknown
                     if u.policy is _Unknown.FAIL]
        warn = [u for u in unknown if u.policy is _Unknown.WARN]
        if warn:
            _warn_unknown(plan, v, warn)
    if problems:
        raise SettingsError(_name(cls), problems) from None
    return obj  # type: ignore[return-value]


def bind_settings(cls: type[S], v: Optional[Variables] = None) -> S:
    """Load settings class ``cls`` from ``v`` (None: the default Variables): ``cls.load(v)``.

    Raises:
        SettingsError: see :meth:`Settings.load`.
    """
    if not (isinstance(cls, type) and issubclass(cls, Settings)):
        raise TypeError(f'bind_settings: expected a Settings subclass, got {cls!r}')
    return cls.load(v)


def _copy_into(old: Settings, new: Settings) -> None:
    """Give ``old`` (and its groups, in place) the values of ``new``."""
    set_ = object.__setattr__
    for f, _name, child in _plan(type(old), old._saf_prefix).steps:
        if child is not None:
            _copy_into(getattr(old, f.name), getattr(new, f.name))
        else:
            set_(old, f.name, getattr(new, f.name))


def _from_values(plan: _Plan, values: dict[str, Any], problems: list[SettingsProblem], path: str,
                 obj: Optional[Settings] = None) -> Settings:
    """Build an unbound object from keyword values (the constructor)."""
    cls = plan.cls
    if obj is None:
        obj = cls.__new__(cls)
    unexpected = set(values) - set(plan.fields_by_name)
    if unexpected:
        raise TypeError(f'{_name(cls)}() got unexpected keyword argument(s): {", ".join(sorted(unexpected))}'
                        f'; fields: {", ".join(plan.fields_by_name)}')
    set_ = object.__setattr__
    for f, name, child in plan.steps:
        given = values.get(f.name, NO_MATCH)
        if child is not None:
            if isinstance(given, child.cls):
                val: Any = given
            elif given is NO_MATCH or isinstance(given, dict):
                val = _from_values(child, dict(given) if given is not NO_MATCH else {}, problems,
                                   f'{path}{f.name}.')
            else:
                raise TypeError(f'{_name(cls)}(): {f.name} takes a {_name(child.cls)} or a dict, got '
                                f'{type(given).__name__}')
        else:
            source = 'argument'
            if given is NO_MATCH:
                given, source = f.default_value(), 'default'
            val = None
            if given is NOT_SET or (given is None and f.required):
                problems.append(_missing(f, name, path + f.name, None))
            elif given is not None:
                assert f.fn is not None
                try:
                    val = f.fn(given)
                except Exception as e:
                    problem = _invalid(f, name, path + f.name, e, None)
                    shown = MASK if f.secret else shown_value(name, given)
                    problems.append(problem._replace(value=shown, source=source))
                else:
                    if f.required and val.__class__ is str and not val:
                        problems.append(_missing(f, name, path + f.name, None, empty=True))
                    elif f.secret:
                        val = Secret(val)
                    elif f.copy_default and val is given and source == 'default':
                        val = copy.deepcopy(val)
        set_(obj, f.name, val)
    set_(obj, '_saf_vars', None)
    set_(obj, '_saf_prefix', plan.prefix)
    return obj


# ----------------------------------------------------------------------------------------------------------------------
# the base class


class Settings:
    """Base class of typed settings, declared like a dataclass::

        class DbSettings(Settings, prefix='DB'):
            host: str = 'localhost'
            port: int = 5432
            password: Secret[str]                 # required: no default
            replicas: list[str] = []              # a fresh list per object

        db = DbSettings.load(v)                   # reads DB_HOST, DB_PORT, DB_PASSWORD, DB_REPLICAS

    Class keywords: ``prefix`` (variables are ``PREFIX_FIELD``; none: ``FIELD``) and ``unknown`` (``'warn'``, the
    default: log one warning listing variables under the prefix that no field reads, with a did-you-mean;
    ``'fail'``: report them in the :class:`SettingsError`; ``'ignore'``). A field annotated with another settings
    class is a group, whose variables take its own prefix (or the field name upper-cased) joined to this one's.

    A loaded object is a *snapshot*: its values are plain attributes, fixed at :meth:`load` / :meth:`reload`. After
    the environment or a source changes (or after ``Variables.reload()``), call :meth:`reload`. Objects are
    read-only; ``DbSettings(host='x', password='p')`` builds an unbound one from values (for tests).
    """

    __slots__ = ('_saf_vars', '_saf_prefix')
    _saf_vars: Optional[Variables]
    _saf_prefix: str
    _saf_info: ClassVar[Optional[_ClassInfo]] = None

    def __init_subclass__(cls, prefix: Optional[str] = None, unknown: Optional[str] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        parent = next((b.__dict__['_saf_info'] for b in cls.__mro__[1:] if b.__dict__.get('_saf_info')), None)
        if unknown is None:
            policy = parent.unknown if parent is not None else _Unknown.WARN
        elif unknown in _UNKNOWN_POLICIES:
            policy = _Unknown(unknown)
        else:
            raise ValueError(f'{_name(cls)}: unknown={unknown!r}; use one of {", ".join(_UNKNOWN_POLICIES)}')
        own_prefix = _norm_prefix(prefix) if prefix is not None else (parent.prefix if parent is not None else None)
        annotations = cls.__dict__.get('__annotations__', {})
        raw: dict[str, FieldInfo] = {}
        for name in annotations:
            if name.startswith('_') or name not in cls.__dict__:
                continue
            value = cls.__dict__[name]
            raw[name] = value if isinstance(value, FieldInfo) else FieldInfo(default=value)
            delattr(cls, name)  # the value lives on each object; the class keeps no shadowing attribute
        # the namespace the class statement ran in, for string annotations naming local (or exec'd) types
        caller = sys._getframe(1)
        while caller.f_back is not None and caller.f_code.co_name == '__init_subclass__':  # a subclass's own hook
            caller = caller.f_back
        module = sys.modules.get(cls.__module__)
        localns: Optional[dict[str, Any]] = None
        if module is None or caller.f_globals is not vars(module):
            localns = dict(caller.f_globals)
        if caller.f_locals is not caller.f_globals:
            localns = {**(localns or {}), **caller.f_locals}
        cls._saf_info = _ClassInfo(own_prefix, policy, raw, localns)

    def __init__(self, **values: Any) -> None:
        """Build an unbound object from field values (converted like variables; omitted fields get their
        defaults; a group takes an object or a dict).

        Raises:
            SettingsError: missing required fields and bad values, all at once.
            TypeError: an argument that is not a field.
        """
        problems: list[SettingsProblem] = []
        _from_values(_plan(type(self)), values, problems, '', self)
        if problems:
            raise SettingsError(_name(type(self)), problems)

    # --- loading ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls: type[S], v: Optional[Variables] = None) -> S:
        """Read every field through ``v`` (None: the default Variables) and return a bound object.

        Each field is read with ``v.environ(NAME, default, type_fn)``, so the default and the type function are
        registered with ``v``; ``Secret`` fields' names are marked secret.

        Raises:
            SettingsError: every missing required field, every bad value, and (``unknown='fail'``) every unknown
                variable, in one error.
        """
        return load_settings(cls, v)

    def reload(self: S) -> S:
        """Read every field again from the bound Variables; returns self (groups are updated in place).

        Raises:
            SettingsError: when the new values are bad; the object keeps its old values.
        """
        v = self._saf_vars
        if v is None:
            raise SettingsError(_name(type(self)), [], f'{_name(type(self))} was built from values, not loaded (or was '
                                                       f'unpickled): use {_name(type(self))}.load(v)')
        new = load_settings(type(self), v, self._saf_prefix)
        _copy_into(self, new)
        return self

    @property
    def variables(self) -> Optional[Variables]:
        """The Variables this object was loaded from (None when built from values)."""
        return self._saf_vars

    # --- showing -----------------------------------------------------------------------------------------------
    def to_dict(self, mask: bool = True) -> dict[str, Any]:
        """Return ``{field: value}`` (groups as nested dicts). With ``mask`` (the default) secrets print as
        ``'****'`` and URL credentials are masked; without it ``Secret`` values are unwrapped."""
        out: dict[str, Any] = {}
        for f, name, child in _plan(type(self), self._saf_prefix).steps:
            val = getattr(self, f.name)
            if child is not None:
                out[f.name] = val.to_dict(mask)
            elif isinstance(val, Secret):
                out[f.name] = MASK if mask else val.get()
            else:
                out[f.name] = mask_value(name, val) if mask else val
        return out

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """One dict per field (groups flattened, ``field`` dotted): ``field``, ``variable``, ``type``,
        ``default`` (masked for secrets; None when required), ``secret``, ``required``, ``help``."""
        rows: list[dict[str, Any]] = []
        _describe(_plan(cls), '', rows)
        return rows

    def __repr__(self) -> str:
        parts = []
        plan = _plan(type(self), self._saf_prefix)
        for f, name, child in plan.steps:
            val = getattr(self, f.name, None)
            if child is None and not isinstance(val, Secret):
                val = mask_value(name, val)
            parts.append(f'{f.name}={val!r}')
        return f"{_name(type(self))}({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in _fields(type(self)))

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f'{_name(type(self))} is read-only: settings are a snapshot of the configuration; '
                             f'change the variable and call reload()')

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f'{_name(type(self))} is read-only')

    # --- copying (the read-only __setattr__ would stop the default protocol) -----------------------------------
    def __getstate__(self) -> tuple[dict[str, Any], Optional[Variables], str]:
        return ({f.name: getattr(self, f.name) for f in _fields(type(self))}, self._saf_vars, self._saf_prefix)

    def __setstate__(self, state: tuple[dict[str, Any], Optional[Variables], str]) -> None:
        values, v, prefix = state
        for name, val in values.items():
            object.__setattr__(self, name, val)
        object.__setattr__(self, '_saf_vars', v)
        object.__setattr__(self, '_saf_prefix', prefix)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the values (groups and ``Secret`` values included), not the binding: the ``Variables`` an
        object was loaded from holds type functions, locks and the app's state, none of which can cross a process
        boundary. The unpickled object (in a Dask or multiprocessing job) is equal, reads the same and is unbound
        (:attr:`variables` is None; :meth:`reload` raises). ``copy``/``deepcopy`` keep the binding."""
        values = {f.name: getattr(self, f.name) for f in _fields(type(self))}
        return (_unpickle_settings, (type(self), values, self._saf_prefix))

    def __copy__(self: S) -> S:
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    def __deepcopy__(self: S, memo: dict[int, Any]) -> S:
        values, v, prefix = self.__getstate__()
        new = type(self).__new__(type(self))
        new.__setstate__((copy.deepcopy(values, memo), v, prefix))  # the binding is shared, not copied
        return new


def _unpickle_settings(cls: type[Settings], values: dict[str, Any], prefix: str) -> Settings:
    # the secrets travel to the other process: they are known secret values there too (masked where printed)
    add_secret_values(val.get() for val in values.values() if isinstance(val, Secret))
    obj = cls.__new__(cls)
    obj.__setstate__((values, None, prefix))
    return obj


def _describe(plan: _Plan, path: str, rows: list[dict[str, Any]]) -> None:
    for f, name, child in plan.steps:
        if child is not None:
            _describe(child, f'{path}{f.name}.', rows)
            continue
        default = None if f.required else f.default_value()
        if isinstance(default, Secret):
            default = MASK
        elif f.secret and default not in (None, ''):
            default = MASK
        else:
            default = mask_value(name, default)
        rows.append({'field': path + f.name, 'variable': name, 'type': f.type_name, 'default': default,
                     'secret': f.secret or is_secret_key(name), 'required': f.required, 'help': f.help})


__all__ = ['Settings', 'SettingsError', 'SettingsProblem', 'FieldInfo', 'field', 'bind_settings', 'load_settings']
