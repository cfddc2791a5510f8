"""Layered configuration: :class:`Variables`.

Lookups walk the layers in order and return the first hit. With the default
``EnvPlacement.TOP`` the order is: process environment (key upper-cased), local values, extra sources in
the order added, registered defaults; a command-line layer, once added, sits above all of them. The environment
is read live on every lookup.

The lookup rule is written once: ``Variables._layers``, an ordered tuple of layer objects (:class:`_Layer`: one
for the command line, the environment, the local values, each extra source, the defaults), built by
``Variables._build_layers`` from ``_ORDERS`` whenever the layers change. ``_find``, ``lookup_places``,
``explain``, ``keys`` and ``in`` walk it. ``get`` and ``environ`` inline the walk for one shape of it
(environment, local, sources, defaults: the default placement without a command-line layer), used only when the
built tuple has exactly that shape; ``tests/api/test_lookup_rule.py`` checks them against the walk on random
layers and keys.
"""

from __future__ import annotations

import os as _os
from typing import Any, Callable, Iterable, Iterator, Mapping, MutableMapping, NamedTuple, Optional

from ..exceptions import ConfigurationError, SAFError
from ..util import _environ
from ..util.secrets import (
    MASK,
    add_secret_value,
    add_secret_values,
    is_secret_key,
    mark_secret_key,
    mask_text,
    mask_value,
    shown_value,
)
from .constants import NO_MATCH, NOT_SET, EnvPlacement, is_epp

TypeFn = Callable[[Any], Any]

# results of these types are safe to cache and hand out again
_IMMUTABLE = frozenset((int, float, bool, str, bytes, type(None), tuple, frozenset, complex, type))

# --- live environment access: see util._environ (the adapter over os.environ's internals) ---------------------
_ENV_GET = _environ.GET
_EKEYS = _environ.KEYS
_EVALS = _environ.VALUES
_ekey = _environ.encoded_key
_decode = _environ.decode


# --- the layers: the one lookup rule ---------------------------------------------------------------------------
class _Layer:
    """One layer of a :class:`Variables`' lookup order."""

    __slots__ = ()

    def get(self, key: str) -> Any:
        """The raw value of ``key`` in this layer, or ``NO_MATCH``."""
        raise NotImplementedError

    def describe(self, key: str) -> str:
        """Where a value of ``key`` found here comes from (``find``'s layer name, ``explain``'s provenance)."""
        raise NotImplementedError

    def places(self, key: str) -> list[str]:
        """The places in this layer a value of ``key`` could be set, for error messages."""
        raise NotImplementedError

    def listed_keys(self) -> Iterable[Any]:
        """The keys this layer adds to :meth:`Variables.keys` (the environment is listed by the prefix functions
        only; the command line's keys and the defaults are registered keys already)."""
        return ()


class _CliLayer(_Layer):
    """The command line (a :class:`~scitrera_app_framework.util.config_sources.CliSource`), above every layer."""

    __slots__ = ('source',)

    def __init__(self, source: Any) -> None:
        self.source = source

    def get(self, key: str) -> Any:
        return self.source.get(key, NO_MATCH)

    def describe(self, key: str) -> str:
        return str(self.source.describe(key))

    def places(self, key: str) -> list[str]:
        flag = self.source.flag(key)
        return [f'the command line ({flag or "--" + key.lower().replace("_", "-")})']


class _EnvironmentLayer(_Layer):
    """The process environment, read live, the key upper-cased."""

    __slots__ = ()

    def get(self, key: str) -> Any:
        raw = _ENV_GET(_EKEYS.get(key) or _ekey(key))  # (util._environ.env_get, inlined: one call less)
        if raw is None:
            return NO_MATCH
        return _EVALS.get(raw) or _decode(raw)

    def describe(self, key: str) -> str:
        return 'environment'

    def places(self, key: str) -> list[str]:
        return [f'the environment variable {key.upper()}']


class _StoreLayer(_Layer):
    """A layer over a mapping the :class:`Variables` holds itself (keys matched exactly)."""

    __slots__ = ('store',)

    def __init__(self, store: Mapping[str, Any]) -> None:
        self.store = store

    def get(self, key: str) -> Any:
        return self.store.get(key, NO_MATCH)


class _LocalLayer(_StoreLayer):
    """The local values (``v.set``), in the store ``local_provider`` made."""

    __slots__ = ()

    def describe(self, key: str) -> str:
        return 'local'

    def places(self, key: str) -> list[str]:
        return [f'a local value (v.set({key!r}, ...))']

    def listed_keys(self) -> Iterable[Any]:
        return self.store.keys()


class _SourceLayer(_Layer):
    """One extra source (``add_source``): anything with ``get(key, default)``; ``describe(key)``, ``path`` and
    ``keys()`` are used when it has them."""

    __slots__ = ('source', 'index')

    def __init__(self, source: Any, index: int) -> None:
        self.source, self.index = source, index

    def _name(self) -> str:
        return f'source[{self.index}] ({type(self.source).__name__})'

    def get(self, key: str) -> Any:
        return self.source.get(key, NO_MATCH)

    def describe(self, key: str) -> str:
        describe = getattr(self.source, 'describe', None)
        return describe(key) if callable(describe) else self._name()

    def places(self, key: str) -> list[str]:
        path = getattr(self.source, 'path', None)
        return [path and f'{type(self.source).__name__} {path}' or self._name()]

    def listed_keys(self) -> Iterable[Any]:
        keys = getattr(self.source, 'keys', None)
        return keys() if callable(keys) else ()


class _DefaultsLayer(_StoreLayer):
    """The registered defaults (``environ(..., default=...)``, ``set_default_value``)."""

    __slots__ = ()

    def describe(self, key: str) -> str:
        return 'default'

    def places(self, key: str) -> list[str]:
        return ['a default (environ(..., default=...))']


_ENVIRONMENT = _EnvironmentLayer()

#: the order of the layers per placement (``_SourceLayer``: every extra source, in the order added); the
#: command-line layer, when added, goes above all of them
_ORDERS: dict[EnvPlacement, tuple[type[_Layer], ...]] = {
    EnvPlacement.TOP: (_EnvironmentLayer, _LocalLayer, _SourceLayer, _DefaultsLayer),
    EnvPlacement.BOTTOM: (_LocalLayer, _SourceLayer, _DefaultsLayer, _EnvironmentLayer),
    EnvPlacement.BOTTOM2: (_LocalLayer, _SourceLayer, _EnvironmentLayer, _DefaultsLayer),
    EnvPlacement.IGNORED: (_LocalLayer, _SourceLayer, _DefaultsLayer),
}


def _fast_path_fits(layers: tuple[_Layer, ...]) -> bool:
    """True when ``layers`` has the one shape the inlined lookups of ``get``/``environ`` encode: environment,
    local values, the extra sources, defaults (and nothing else)."""
    kinds = [type(layer) for layer in layers]
    n = len(kinds) - 3
    return n >= 0 and kinds == [_EnvironmentLayer, _LocalLayer] + [_SourceLayer] * n + [_DefaultsLayer]


class Declaration(NamedTuple):
    """A declared variable (:meth:`Variables.environ` with ``help``, ``secret`` or ``required``)."""

    help: Optional[str]
    secret: bool
    required: bool


_NOT_DECLARED = Declaration(None, False, False)


class _EnvironSpec:
    """What :meth:`Variables.environ` keeps per key (its fast path): the ``default`` and ``type_fn`` arguments
    it was called with, the effective type function and registered default, the last raw value and its
    conversion, the encoded environment key, ``required`` (the declaration's) and the ``(help, secret, required)``
    arguments it was called with (a later call declaring something else registers again)."""

    __slots__ = ('default_arg', 'type_fn_arg', 'type_fn', 'default', 'last_raw', 'last_value', 'env_key', 'required',
                 'declare_args')

    def __init__(self, default_arg: Any, type_fn_arg: Optional[TypeFn], type_fn: Optional[TypeFn], default: Any,
                 env_key: Any, required: bool, declare_args: tuple[Optional[str], bool, bool]) -> None:
        self.default_arg, self.type_fn_arg, self.type_fn, self.default = default_arg, type_fn_arg, type_fn, default
        self.last_raw: Any = NO_MATCH
        self.last_value: Any = None
        self.env_key, self.required, self.declare_args = env_key, required, declare_args


class EnvironProxy(MutableMapping[str, str]):
    """The process environment seen the way :class:`Variables` reads it: keys upper-cased.

    ``EnvironProxy()['path']`` is ``os.environ['PATH']``; ``'path' in proxy`` tests ``'PATH'``; assignment and
    deletion go to ``os.environ`` under the upper-cased name. Iteration yields the environment's own names.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> str:
        return _os.environ[key.upper()]

    def __setitem__(self, key: str, value: str) -> None:
        _os.environ[key.upper()] = value

    def __delitem__(self, key: str) -> None:
        del _os.environ[key.upper()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.upper() in _os.environ

    def __iter__(self) -> Iterator[str]:
        return iter(list(_os.environ))

    def __len__(self) -> int:
        return len(_os.environ)

    def get(self, key: str, default: Any = None) -> Any:
        """``os.environ.get(key.upper(), default)``."""
        return _os.environ.get(key.upper(), default)

    def __repr__(self) -> str:
        return f'<EnvironProxy of {len(_os.environ)} environment variables>'


class VariableTypeError(SAFError, ValueError):
    """A registered type function failed on a value; names the key, the layer and the raw value.

    The value is masked when the key looks secret, URL credentials are masked whatever the key, and at most 200
    characters of it are quoted. The exception is chained to a *sanitized* copy of the type function's error
    (same type name and traceback, masked message), never to the original, whose text usually repeats the
    value; the original is kept on ``.original`` for code that needs it.
    """

    def __init__(self, key: str, layer: str, raw: Any, error: BaseException) -> None:
        self.key, self.layer, self.raw, self.original = key, layer, raw, error
        where = f'environment variable {key.upper()}' if layer == 'environment' else f'{layer} value'
        detail = _error_detail(key, error)
        super().__init__(
            f'variable {key!r}: cannot convert {where} {shown_value(key, raw)}: {detail}; '
            f'fix the value or the type function registered for {key!r}'
        )

    def __reduce__(self) -> Any:  # picklable (crosses process boundaries) without the original error
        return (_rebuild_type_error, (self.args[0], self.key, self.layer))


def _rebuild_type_error(message: str, key: str, layer: str) -> ValueError:
    e = VariableTypeError.__new__(VariableTypeError)
    ValueError.__init__(e, message)
    e.key, e.layer, e.raw, e.original = key, layer, None, None  # type: ignore[assignment]
    return e


def _error_detail(key: str, error: BaseException) -> str:
    """``Type: message`` of a type function's error, fit to print: just the type for a secret key, else the
    message with secrets masked and cut to 300 characters."""
    if is_secret_key(key):
        return type(error).__name__
    raw = str(error)
    text = mask_text(raw[:1200])  # mask a generous prefix only: masking 10 MB would take seconds
    if len(raw) > 300:
        text = f'{text[:300]}... ({len(raw):,} characters)'
    return f'{type(error).__name__}: {text}'


class RequiredVariableError(ConfigurationError):
    """A variable declared ``required`` has no value; names it and every place it could have come from."""

    def __init__(self, key: str, places: list[str]) -> None:
        self.key, self.places = key, places
        super().__init__(f'variable {key!r} is required but has no value; set it in one of: ' + '; '.join(places))

    def __reduce__(self) -> Any:
        return (type(self), (self.key, self.places))


def _masked(key: str, value: Any, secret: bool) -> Any:
    try:
        if secret and value not in (None, ''):
            return MASK
        return mask_value(key, value)
    except Exception:  # a value that cannot be compared or walked (its own __eq__ / items() raise): not shown
        return f'<unprintable {type(value).__name__}>'


def _layer_of(where: str, key: str) -> tuple[str, Optional[str]]:
    """``(layer, origin)`` from what :meth:`Variables._find` reports."""
    if not where:
        return 'not set', None
    if where == 'environment':
        return 'environment', key.upper()
    if where in ('local', 'default'):
        return where, None
    if where.startswith('command line') or where == 'cli':
        return 'cli', where if where != 'cli' else None
    if where.startswith('file '):
        return 'file', where[5:]
    if where.startswith('secrets '):
        return 'secrets', where.split(' ', 2)[-1]
    return 'source', where


class TypeFunctionError(SAFError):
    """Stands in for a type function's error in a :class:`VariableTypeError` chain: the same type name and
    traceback, with the message masked (see :class:`VariableTypeError`)."""


def _sanitized_cause(key: str, error: BaseException) -> BaseException:
    """The same exception type with a masked message where that type prints its message plainly (builtin
    exceptions and most user ones), else a :class:`TypeFunctionError`; the original traceback either way."""
    detail = _error_detail(key, error)
    text = detail.split(': ', 1)[1] if ': ' in detail else '(message hidden: the value is secret)'
    cause: BaseException
    cls = type(error)
    try:
        if cls.__str__ is not BaseException.__str__ or cls.__repr__ is not BaseException.__repr__:
            raise TypeError('custom message rendering')
        cause = cls(text)
    except Exception:
        cause = TypeFunctionError(detail)
    cause.__traceback__ = error.__traceback__
    return cause


class Variables:
    """Layered configuration with typed access.

    Args:
        sources: extra read-only sources (mappings, or anything with ``get(key, default)``), consulted in order.
        env_placement: where the process environment sits (see :class:`EnvPlacement`).
        local_provider: factory for the local value store (default ``dict``).
    """

    __slots__ = ('_local', '_sources', '_defaults', '_type_fns', '_known', '_placement', '_layers', '_source_layers',
                 '_env_top', '_conv', '_espec', '__saf_context__', '_cli', '_decl', '_callbacks', '__weakref__',
                 '__dict__')

    def __init__(self, sources: Iterable[Any] = (), env_placement: EnvPlacement = EnvPlacement.TOP,
                 local_provider: Callable[[], MutableMapping[str, Any]] = dict) -> None:
        if not isinstance(env_placement, EnvPlacement):
            raise TypeError(f'env_placement must be an EnvPlacement, got {env_placement!r}')
        self._local: MutableMapping[str, Any] = local_provider()
        self._sources: list[Any] = []
        self._defaults: dict[str, Any] = {}
        self._type_fns: dict[str, TypeFn] = {}
        self._known: dict[str, None] = {}
        self._placement = env_placement
        self._conv: dict[str, tuple[Any, Any, Any]] = {}
        self._espec: dict[str, _EnvironSpec] = {}  # environ() fast path, per key; dropped when defaults/types change
        # the app's state (core.context.AppContext), created on first use; read only through core.context
        self.__saf_context__: Any = None
        self._cli: Any = None  # the command-line source (a layer above everything), when added
        self._decl: dict[str, Declaration] = {}  # declared variables
        self._callbacks: list[Callable[[set[str]], Any]] = []  # called by reload() with the changed keys
        self._build_layers()
        for s in sources:
            self.add_source(s)

    def _build_layers(self) -> None:
        """Build the lookup order (``_layers``), the one rule every lookup follows, from ``_ORDERS``, the
        placement, the sources and the command-line source; called whenever one of them changes."""
        self._env_top = False  # (a reader meanwhile takes the generic walk: correct with either tuple)
        sources = tuple(_SourceLayer(src, i) for i, src in enumerate(self._sources))
        made: dict[type[_Layer], tuple[_Layer, ...]] = {
            _EnvironmentLayer: (_ENVIRONMENT,), _LocalLayer: (_LocalLayer(self._local),), _SourceLayer: sources,
            _DefaultsLayer: (_DefaultsLayer(self._defaults),)}
        layers: tuple[_Layer, ...] = () if self._cli is None else (_CliLayer(self._cli),)
        for kind in _ORDERS[self._placement]:
            layers += made[kind]
        self._source_layers = sources
        self._layers = layers
        self._env_top = _fast_path_fits(layers)

    # --- layers ------------------------------------------------------------------------------------------
    @property
    def env_placement(self) -> EnvPlacement:
        """The placement of the process environment among the layers."""
        return self._placement

    def add_source(self, source: Any) -> Variables:
        """Append an extra source (below local values, above defaults); returns self.

        Raises:
            TypeError: when ``source`` has no ``get`` method.
        """
        if not callable(getattr(source, 'get', None)):
            raise TypeError(f'a Variables source needs a get(key, default) method; got {type(source).__name__}')
        # a new list, not an append: a shallow copy (copy.copy) shares the old one, and must not list a source its
        # own layers never read
        self._sources = [*self._sources, source]
        self._build_layers()
        self._conv.clear()
        return self

    @property
    def sources(self) -> tuple[Any, ...]:
        """The extra sources, in lookup order."""
        return tuple(self._sources)

    def add_cli_source(self, args: Any, flags: Optional[Mapping[str, str]] = None) -> Variables:
        """Put command-line values above every other layer (environment included): an ``argparse.Namespace``
        (its attributes that are not None) or ``--key=value`` / ``--key value`` / ``--flag`` arguments; keys match
        like environment names (``--log-level`` answers ``LOG_LEVEL``). Adding again merges (later wins);
        returns self. ``flags`` (``{'WORDTOOL_REPEAT': '--repeat'}``) names the option of each variable when it is
        not derived from the key; error messages and provenance show it.

        Raises:
            TypeError: ``args`` is neither a namespace nor a list of strings.
        """
        from ..util.config_sources import CliSource

        new = CliSource(args, flags)
        if self._cli is not None:
            new = self._cli.merged(new)
        self._cli = new
        self._build_layers()
        self._conv.clear()
        self._espec.clear()
        for k in new.keys():
            self._known.setdefault(k.upper(), None)
        return self

    def reload(self) -> set[str]:
        """Re-read every source that can (files, secrets directories); return the keys whose values changed.

        A source that cannot be read now keeps its last good values; the error is logged (logger
        ``saf.config``) and the others still reload. Callbacks registered with :meth:`on_reload` are called with
        the changed keys (when there are any).
        """
        changed: set[str] = set()
        for src in self._sources:
            fn = getattr(src, 'reload', None)
            if not callable(fn):
                continue
            try:
                changed |= set(fn())
            except Exception as e:
                import logging
                logging.getLogger('saf.config').error('reload of %s failed, keeping its last good values: %s: %s',
                                                      getattr(src, 'path', type(src).__name__), type(e).__name__,
                                                      mask_text(str(e)))
        if changed:
            add_secret_values(self._find(k)[0] for k in changed if is_secret_key(k))  # (a rotated secret's new value)
            self._conv.clear()
            for spec in self._espec.values():
                spec.last_raw = NO_MATCH
            for cb in list(self._callbacks):
                try:
                    cb(changed)
                except Exception as e:
                    import logging
                    logging.getLogger('saf.config').error('reload callback %r failed: %s: %s', cb,
                                                          type(e).__name__, mask_text(str(e)))
        return changed

    def on_reload(self, callback: Callable[[set[str]], Any]) -> Callable[[set[str]], Any]:
        """Call ``callback(changed_keys)`` after a :meth:`reload` that changed something; returns it."""
        self._callbacks.append(callback)
        return callback

    def _hit(self, key: str) -> tuple[Any, Optional[_Layer]]:
        """The lookup rule: ``(raw value, layer)`` from the first layer that has ``key``, or ``(NO_MATCH, None)``."""
        for layer in self._layers:
            val = layer.get(key)
            if val is not NO_MATCH:
                return val, layer
        return NO_MATCH, None

    def _find(self, key: str) -> tuple[Any, str]:
        """Return ``(raw value, layer name)`` or ``(NO_MATCH, '')``."""
        val, layer = self._hit(key)
        return (NO_MATCH, '') if layer is None else (val, layer.describe(key))

    def _convert(self, key: str, fn: TypeFn, raw: Any) -> Any:
        if raw is None:
            return None
        cached = self._conv.get(key)
        if cached is not None and cached[0] is fn and cached[1] is raw:
            return cached[2]
        try:
            result = fn(raw)
        except Exception as e:
            found, layer = self._find(key)
            raise VariableTypeError(key, layer if found is raw or found == raw else 'unknown layer', raw,
                                    e) from _sanitized_cause(key, e)
        if type(result) in _IMMUTABLE and type(raw) in _IMMUTABLE:
            self._conv[key] = (fn, raw, result)
        return result

    # --- reading -----------------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None, local: bool = False) -> Any:
        """Return the value of ``key`` from the first layer that has it, else ``default``.

        With ``local=True`` only local values are read. A type function registered for the key is applied to
        the value found (not to ``default``).

        Raises:
            VariableTypeError: when the registered type function fails on the value found.
        """
        if local:
            val = self._local.get(key, NO_MATCH)
            if val is NO_MATCH:
                return default
        elif self._env_top:  # the default placement, inlined: environment, local, sources, defaults
            try:
                ek = _EKEYS[key]
            except KeyError:
                ek = _ekey(key)
            raw = _ENV_GET(ek)
            if raw is None:
                val = self._local.get(key, NO_MATCH)
                if val is NO_MATCH:
                    for layer in self._source_layers:
                        val = layer.get(key)
                        if val is not NO_MATCH:
                            break
                    else:
                        val = self._defaults.get(key, NO_MATCH)
                        if val is NO_MATCH:
                            return default
            else:
                val = _EVALS.get(raw) or _decode(raw)
        else:
            val = self._hit(key)[0]
            if val is NO_MATCH:
                return default
        fn = self._type_fns.get(key)
        if fn is None:
            return val
        cached = self._conv.get(key)  # the conversion cache, inlined (one Python frame less per hit)
        if cached is not None and cached[1] is val and cached[0] is fn:
            return cached[2]
        return self._convert(key, fn, val)

    def find(self, key: str) -> tuple[Any, Optional[str]]:
        """Return ``(raw value, layer name)`` for ``key`` without type conversion; ``(NO_MATCH, None)`` if absent."""
        raw, layer = self._hit(key)
        return (NO_MATCH, None) if layer is None else (raw, layer.describe(key) or None)

    def environ(self, key: str, default: Any = NOT_SET, type_fn: Optional[TypeFn] = None,
                help: Optional[str] = None, secret: bool = False, required: bool = False) -> Any:
        """Register ``default`` and ``type_fn`` for ``key`` (they persist) and return its current value.

        Returns None when no layer has the key and no default is registered. ``help``, ``secret`` and
        ``required`` *declare* the variable (``describe_variables`` lists it; a secret one is masked wherever the
        framework prints it); they are recorded the first time they are given.

        Raises:
            VariableTypeError: when the type function fails on the value found.
            RequiredVariableError: ``required`` and no layer has a value (names the variable and every place it
                could have come from).
        """
        spec = self._espec.get(key)
        if spec is None or spec.default_arg is not default or spec.type_fn_arg is not type_fn or (
                (help is not None or secret or required) and spec.declare_args != (help, secret, required)):
            spec = self._environ_register(key, default, type_fn, help, secret, required)
        # the lookup of get(), inlined for the default placement (this call sits on hot paths)
        if self._env_top:
            raw = _ENV_GET(spec.env_key)
            if raw is None:
                val = self._local.get(key, NO_MATCH)
                if val is NO_MATCH:
                    for layer in self._source_layers:
                        val = layer.get(key)
                        if val is not NO_MATCH:
                            break
                    else:
                        val = spec.default
            else:
                val = _EVALS.get(raw) or _decode(raw)
        else:
            val = self._hit(key)[0]
            if val is NO_MATCH:
                val = None
        if val is None and spec.required:
            raise RequiredVariableError(key, self.lookup_places(key))
        if val is spec.last_raw:  # same raw value as last time: its conversion is cached
            return spec.last_value
        fn = spec.type_fn
        if fn is None or val is None:
            return val
        try:
            result = fn(val)  # (spec caches the conversion: no need for _convert's cache here)
        except Exception:
            return self._convert(key, fn, val)  # raises the VariableTypeError naming key, layer and value
        if type(result) in _IMMUTABLE and type(val) in _IMMUTABLE:
            spec.last_raw = val
            spec.last_value = result
        return result

    def _environ_register(self, key: str, default: Any, type_fn: Optional[TypeFn], help: Optional[str] = None,
                          secret: bool = False, required: bool = False) -> _EnvironSpec:
        # attributes read once into locals: attribute access costs more on this class (it has __getattr__)
        defaults, type_fns = self._defaults, self._type_fns
        if default is not NOT_SET:
            defaults[key] = default
        else:
            default_now = defaults.get(key)
        fn: Optional[TypeFn]
        if type_fn is not None:
            type_fns[key] = type_fn
            fn = type_fn
        else:
            fn = type_fns.get(key)
        self._known[key] = None
        declare_args = (help, secret, required)
        decl = self._decl
        old = decl.get(key) if decl else None
        if help is not None or secret or required or old is not None:
            if old is not None:
                help = help if help is not None else old.help
                secret = secret or old.secret
                required = required or old.required
            decl[key] = Declaration(help, secret, required)
            if secret:
                mark_secret_key(key)
                add_secret_value(self._find(key)[0])
        ek = _EKEYS.get(key)
        if ek is None:
            ek = _ekey(key)
        spec = _EnvironSpec(default, type_fn, fn, default if default is not NOT_SET else default_now, ek, required,
                            declare_args)
        self._espec[key] = spec
        return spec

    def lookup_places(self, key: str) -> list[str]:
        """Every place a value of ``key`` could come from, in lookup order, as text for error messages
        (``['the environment variable PORT', 'a local value (v.set('port', ...))', ...]``)."""
        return [place for layer in self._layers for place in layer.places(key)]

    # --- provenance --------------------------------------------------------------------------------------
    def explain(self, key: str) -> dict[str, Any]:
        """Where ``key``'s value comes from: a dict with ``key``, ``value`` (converted; masked when secret),
        ``raw`` (masked likewise), ``layer`` (``cli``, ``environment``, ``local``, ``file``, ``secrets``,
        ``source``, ``default`` or ``not set``), ``origin`` (the environment variable, the file and line, the
        command-line flag, ...), ``type`` (the type function's name), ``default`` (masked), ``secret``,
        ``required`` and ``help``. Never raises for a bad value: ``error`` says what is wrong instead.
        """
        raw, where = self._find(key)
        help_, secret_flag, required = self._decl.get(key, _NOT_DECLARED)
        layer, origin = _layer_of(where, key)
        secret = secret_flag or is_secret_key(key) or layer == 'secrets'  # a secrets source's value, whenever read
        fn = self._type_fns.get(key)
        out: dict[str, Any] = {'key': key, 'layer': layer, 'origin': origin,
                               'type': getattr(fn, '__name__', None) if fn is not None else None,
                               'default': _masked(key, self._defaults.get(key), secret),
                               'secret': secret, 'required': required, 'help': help_}
        if raw is NO_MATCH:
            out.update(value=None, raw=None)
            return out
        out['raw'] = _masked(key, raw, secret)
        try:
            value = self._convert(key, fn, raw) if fn is not None else raw
        except VariableTypeError as e:
            out.update(value=None, error=str(e))
            return out
        out['value'] = _masked(key, value, secret)
        return out

    def explain_all(self) -> list[dict[str, Any]]:
        """:meth:`explain` for every known key (internal ``=|NAME|`` keys left out), sorted by key."""
        return [self.explain(k) for k in sorted(k for k in self.keys() if isinstance(k, str) and not is_epp(k))]

    def bind(self, cls: Any) -> Any:
        """Load the typed settings class ``cls`` from this ``Variables`` (``cls.load(self)``; see
        :mod:`scitrera_app_framework.settings`).

        Raises:
            SettingsError: missing required fields and bad values, all in one error.
            TypeError: ``cls`` is not a class with a ``load(v)`` classmethod (not a Settings subclass).
        """
        load = getattr(cls, 'load', None) if isinstance(cls, type) else None
        if not callable(load):
            what = f'class {cls.__qualname__}' if isinstance(cls, type) else f'{type(cls).__name__} {cls!r:.80}'
            raise TypeError(f'Variables.bind: {what} has no load(v) classmethod; pass a Settings subclass '
                            f'(scitrera_app_framework.settings.Settings)')
        return load(self)

    def registered_keys(self) -> set[str]:
        """The keys with a registered default or type function (``environ``, ``set_default_value``, ...)."""
        return set(self._defaults) | set(self._type_fns)

    def declared(self) -> dict[str, Declaration]:
        """The declared variables: ``{key: (help, secret, required)}`` (:class:`Declaration` tuples; see
        :meth:`environ`)."""
        return dict(self._decl)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __getattr__(self, name: str) -> Any:
        """``v.port`` is ``v.get('port')`` (reads never change the class). ``v.port = 5`` sets an attribute of
        that instance, as in the original (it is not a configuration value: ``v.get('port')`` does not see it)."""
        if name[0] == '_':
            raise AttributeError(name)
        return self.get(name)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key in self._known:  # (registered keys: type functions, defaults, the command line's, set locally)
            return True
        return any(layer.get(key) is not NO_MATCH for layer in self._layers)

    # --- writing -----------------------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> Any:
        """Set a local value (overrides sources and defaults; the environment still wins with TOP); returns it."""
        if is_secret_key(key):
            add_secret_value(value)
        self._local[key] = value
        if key not in self._known:
            self._known[key] = None
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        del self._local[key]

    def pop(self, key: str, default: Any = None) -> Any:
        """Remove a local value and return it (or ``default``)."""
        return self._local.pop(key, default)

    def update(self, values: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        """Set several local values at once."""
        for src in (values or {}), kwargs:
            for k, val in src.items():
                self.set(k, val)

    def set_default_value(self, key: str, value: Any) -> None:
        """Register the default (lowest layer) for ``key``."""
        self._defaults[key] = value
        self._known[key] = None
        self._espec.pop(key, None)

    def set_type_fn(self, key: str, type_fn: Optional[TypeFn]) -> None:
        """Register (or, with None, remove) the type function applied to every value read for ``key``."""
        if type_fn is None:
            self._type_fns.pop(key, None)
        else:
            self._type_fns[key] = type_fn
        self._conv.pop(key, None)
        self._espec.pop(key, None)
        self._known[key] = None

    def set_type_default(self, key: str, default: Any = NOT_SET, type_fn: Optional[TypeFn] = None) -> None:
        """Register the default (unless NOT_SET) and the type function (unless None) for ``key`` together
        (the original's argument order: ``set_type_default('port', 8080, int)``)."""
        if type_fn is not None:
            self.set_type_fn(key, type_fn)
        if default is not NOT_SET:
            self.set_default_value(key, default)

    def get_or_set(self, key: str, value_fn: Any = None) -> Any:
        """Return the local value of ``key``; when it has none, store and return ``value_fn()`` (e.g. ``dict``,
        ``list``). A ``value_fn`` that is not callable is stored as it is."""
        val = self._local.get(key, NO_MATCH)
        if val is NO_MATCH:
            return self.set(key, value_fn() if callable(value_fn) else value_fn)
        return val

    def get_or_set_default(self, key: str, value_fn: Any = None) -> Any:
        """Return the value of ``key``; when it has no value in any layer, register ``value_fn()`` (or a
        non-callable ``value_fn`` as it is) as its default first."""
        val, _ = self._find(key)
        if val is NO_MATCH or val is None:
            self.set_default_value(key, value_fn() if callable(value_fn) else value_fn)
        return self.get(key)

    # --- enumeration -------------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        """Every key seen: set locally, registered via ``environ``/defaults, or present in a source with keys()."""
        out: dict[str, None] = dict(self._known)
        for layer in self._layers:
            for k in layer.listed_keys():
                out.setdefault(k, None)
        return list(out)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def export_all_variables(self, exclude_epp: bool = True) -> dict[str, Any]:
        """Return ``{key: value}`` for every key in :meth:`keys`; internal ``=|NAME|`` keys left out by default."""
        return {k: self.get(k) for k in self.keys() if not (exclude_epp and is_epp(k))}

    def _env_names(self) -> list[str]:
        return list(_os.environ.keys()) if _ENVIRONMENT in self._layers else []

    @staticmethod
    def _prefix_key(name: str, full: str, drop_prefix: bool, key_lower: bool) -> str:
        """The part after the prefix (lower-cased with ``key_lower``), behind the prefix unless ``drop_prefix``."""
        rest = name[len(full):]
        if key_lower:
            rest = rest.lower()
        return rest if drop_prefix else full + rest

    @staticmethod
    def _full_prefix(prefix: str, sep: str, prefix_lower: bool) -> str:
        p = prefix.lower() if prefix_lower else prefix
        return p if not sep or p.endswith(sep) else p + sep

    def get_by_prefix(self, prefix: str, sep: str = '_', drop_prefix: bool = True, prefix_lower: bool = False,
                      key_lower: bool = True) -> dict[str, Any]:
        """Return ``{name: value}`` for every known key and environment variable named ``<prefix><sep>...``.

        With ``APP_NAME`` and ``APP_VERSION`` set, ``get_by_prefix('APP')`` gives ``{'name': ..., 'version': ...}``:
        ``drop_prefix`` removes ``<prefix><sep>``, ``key_lower`` lower-cases the rest, ``prefix_lower`` matches the
        lower-cased prefix (for keys stored in lower case). Environment names match the prefix upper-cased too
        (the environment is read upper-cased). Values are what :meth:`get` returns.
        """
        full = self._full_prefix(prefix, sep, prefix_lower)
        full_up = full.upper()
        out: dict[str, Any] = {}
        names = [k for k in self.keys() if isinstance(k, str) and not is_epp(k)]
        names += [n for n in self._env_names() if n == n.upper()]  # (a lower-case name is not readable via get)
        for name in dict.fromkeys(names):
            if len(name) > len(full) and (name.startswith(full) or name.startswith(full_up)):
                key = self._prefix_key(name, full, drop_prefix, key_lower)
                if key not in out:
                    out[key] = self.get(name)
        return out

    def _import_by_prefix(self, items: Iterable[tuple[str, Any]], prefix: str, sep: str, drop_prefix: bool,
                          prefix_lower: bool, key_lower: bool) -> dict[str, Any]:
        full = self._full_prefix(prefix, sep, prefix_lower)
        full_low = full.lower()
        imported: dict[str, Any] = {}
        for name, value in items:
            if not isinstance(name, str) or len(name) <= len(full) or not name.lower().startswith(full_low):
                continue
            imported[self._prefix_key(name, full, drop_prefix, key_lower)] = value
            self.set(name, value)  # the full name, so importing DB_* and CACHE_* keeps both hosts
        return imported

    def import_from_env_by_prefix(self, prefix: str, sep: str = '_', drop_prefix: bool = True,
                                  prefix_lower: bool = False, key_lower: bool = True) -> dict[str, Any]:
        """Import the environment variables named ``<prefix><sep>...``: each is set as a local value under its
        full name (so :meth:`export_all_variables` holds ``MYAPP_DB_HOST``). Return
        :meth:`get_by_prefix` of the same prefix, as the original did: the merged view, values already set on
        ``v`` (or defaults) included, with the names shortened (``{'host': ...}``)."""
        env = list(_os.environ.items()) if _ENVIRONMENT in self._layers else []
        self._import_by_prefix(env, prefix, sep, drop_prefix, prefix_lower, key_lower)
        return self.get_by_prefix(prefix, sep=sep, drop_prefix=drop_prefix, prefix_lower=prefix_lower,
                                  key_lower=key_lower)

    def import_from_dict_by_prefix(self, prefix: Any, source: Any = None, sep: str = '_', drop_prefix: bool = True,
                                   prefix_lower: bool = False, key_lower: bool = True) -> dict[str, Any]:
        """Register the entries of the mapping ``source`` named ``<prefix><sep>...`` (the prefix matched
        case-sensitively, as the original) as DEFAULTS under their full names: a value set on ``v`` (before or
        after), in a source or in the environment wins over them. Return :meth:`get_by_prefix` of the same prefix,
        as the original did: the merged view (``import_from_dict_by_prefix('DB', {'DB_HOST': 'h'})`` gives
        ``{'host': ...}``). The older ``(mapping, prefix)`` order works too; ``source=None`` imports nothing.

        Raises:
            TypeError: ``source`` is not a mapping.
        """
        if isinstance(prefix, Mapping) and isinstance(source, str):
            prefix, source = source, prefix
        if source is None:
            source = {}
        if not isinstance(source, Mapping):
            raise TypeError(f'import_from_dict_by_prefix: source must be a mapping, got {type(source).__name__}')
        full = self._full_prefix(str(prefix), sep, prefix_lower)
        for name, value in list(source.items()):
            if isinstance(name, str) and len(name) > len(full) and name.startswith(full):
                self.set_default_value(name, value)
        return self.get_by_prefix(str(prefix), sep=sep, drop_prefix=drop_prefix, prefix_lower=prefix_lower,
                                  key_lower=key_lower)

    def __repr__(self) -> str:
        return (f'<Variables placement={self._placement.name} local={len(self._local)} '
                f'sources={len(self._sources)} defaults={len(self._defaults)}>')


__all__ = ['Variables', 'VariableTypeError', 'TypeFunctionError', 'RequiredVariableError', 'EnvironProxy', 'TypeFn',
           'Declaration']
