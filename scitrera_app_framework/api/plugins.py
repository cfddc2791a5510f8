"""The :class:`Plugin` base type: one component that provides the value of an extension point."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Iterable, Optional, TypeVar, overload

from .constants import NOT_SET

T = TypeVar('T')
U = TypeVar('U')

if TYPE_CHECKING:  # annotations only: importing api stays free of logging set-up modules
    import logging
    from typing import Protocol

    from .variables import Variables

    T_co = TypeVar('T_co', covariant=True)

    class _MyExtensionFn(Protocol[T_co]):
        def __call__(self, v: Optional[Variables] = None) -> T_co: ...


class _MyExtension:
    """Descriptor behind ``Plugin.get_my_extension(v=None)``: usable on an instance and on the class.

    ``plugin.get_my_extension(v)`` returns the value of the instance's extension point;
    ``MyPlugin.get_my_extension(v)`` registers ``MyPlugin`` if needed and returns its point's value.
    ``v=None`` means the default ``Variables``.
    """

    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type[Plugin[U]]) -> _MyExtensionFn[U]: ...
    @overload
    def __get__(self, obj: Plugin[U], owner: Any = None) -> _MyExtensionFn[U]: ...
    def __get__(self, obj: Optional[Plugin[Any]], owner: Any = None) -> Any:
        if obj is None:
            def get_my_extension(v: Optional[Variables] = None) -> Any:
                from ..core.plugins import get_extension
                return get_extension(owner, v)
        else:
            def get_my_extension(v: Optional[Variables] = None) -> Any:
                from ..core.defaults import get_variables
                from ..core.plugins import get_extension
                v = get_variables(v)
                return get_extension(obj.extension_point_name(v), v)
        get_my_extension.__doc__ = _MyExtension.__doc__
        return get_my_extension


class Plugin(Generic[T]):
    """Base class for plugins. Subclass it and override the hooks you need.

    Lifecycle (see the README, "Plugins"): registration (``on_registration``), initialization (``initialize``,
    after the plugin's dependencies; ``collected`` becomes True when it is initialized or scheduled,
    ``initialized`` stays True until shutdown): eager plugins (the default) by ``init_all_plugins`` or
    ``register_plugin(init=True)``, lazy ones (``eager = False``) on the first ``get_extension`` of their
    point; optional
    ``async_ready``/``async_stopping`` for asyncio apps; ``shutdown`` in reverse dependency order (a plugin
    before the plugins it depends on).

    ``Plugin[T]`` declares the type of the value ``initialize`` returns, so ``get_extension(MyPlugin)`` is typed.
    """

    #: True (the default, as in the original): initialized by ``init_all_plugins`` (which ``init_framework``
    #: calls) and by ``register_plugin(..., init=True)``. False (lazy): initialized by the first
    #: ``get_extension``/``get_extensions`` of its point, or when a plugin depending on it initializes.
    eager: bool = True
    #: True once the plugin is initialized or scheduled for initialization (``init_all_plugins`` visited it),
    #: not at registration (set on the instance by the registry).
    collected: bool = False
    #: True while the plugin is initialized: set when ``initialize`` returned, False again after ``shutdown``.
    initialized: bool = False
    # whether async_ready / async_stopping ran (or were scheduled) for the current initialization; the
    # original's attribute names, kept up to date by the registry
    _async_ready_called: bool = False
    _async_stopping_called: bool = False

    def name(self) -> str:
        """Unique plugin name (default ``module.ClassName``)."""
        cls = type(self)
        return f'{cls.__module__}.{cls.__qualname__}'

    def extension_point_name(self, v: Variables) -> str:
        """Name of the extension point this plugin provides (default: the plugin name)."""
        return self.name()

    def is_enabled(self, v: Variables) -> bool:
        """Whether this plugin is THE implementation of its extension point (single mode; default True).

        Asked with the configuration of the moment at each lookup of a point not yet initialized. A contributor
        of a multi extension point answers False here and True in :meth:`is_multi_extension`."""
        return True

    def is_multi_extension(self, v: Variables) -> bool:
        """True when this plugin contributes one value to its point's collection (``get_extensions``; default
        False). Asked once, at registration. A plugin is skipped only when this and ``is_enabled`` are False."""
        return False

    def get_dependencies(self, v: Variables) -> Optional[Iterable[str]]:
        """Names of extension points that must be initialized before this plugin (default none)."""
        return ()

    def on_registration(self, v: Variables) -> None:
        """Called once, when the plugin is first registered, before any ``initialize``."""
        return None

    def initialize(self, v: Variables, logger: logging.Logger) -> T:
        """Create and return the extension point's value."""
        return None  # type: ignore[return-value]

    def shutdown(self, v: Variables, logger: logging.Logger, value: T) -> None:
        """Release what ``initialize`` acquired; called once, before the shutdown of what this plugin uses."""
        return None

    async def async_ready(self, v: Variables, logger: logging.Logger, value: T) -> None:
        """Optional: awaited by ``async_plugins_ready`` once the event loop runs (dependencies first), or
        scheduled automatically after ``initialize`` when an event loop was captured."""
        return None

    async def async_stopping(self, v: Variables, logger: logging.Logger, value: T) -> None:
        """Optional: awaited by ``async_plugins_stopping`` before shutdown (reverse order), or scheduled
        automatically by ``shutdown_all_plugins`` when an event loop was captured."""
        return None

    # --- helpers -----------------------------------------------------------------------------------------
    def get_logger(self, v: Variables) -> logging.Logger:
        """Return a child of the app logger named after this plugin's extension point."""
        from ..core.logs import get_logger
        return get_logger(v, name=self.extension_point_name(v))

    if TYPE_CHECKING:
        get_my_extension: _MyExtension
    else:
        get_my_extension = _MyExtension()

    @overload
    @staticmethod
    def get_extension(name: type[Plugin[U]], v: Optional[Variables] = None) -> U: ...
    @overload
    @staticmethod
    def get_extension(name: str, v: Optional[Variables] = None) -> Any: ...
    @staticmethod
    def get_extension(name: Any, v: Optional[Variables] = None) -> Any:
        """Return the value of a (single) extension point; ``v=None`` means the default ``Variables``.

        Callable on the class (``MyPlugin.get_extension('db')``) as well as on an instance
        (``self.get_extension('db', v)``). Raises as :func:`scitrera_app_framework.get_extension`.
        """
        from ..core.plugins import get_extension
        return get_extension(name, v)

    def __repr__(self) -> str:
        return f'<Plugin {self.name()}>'


def enabled_option_pattern(plugin: Plugin[Any], v: Variables, env_variable: str, default: Any = NOT_SET,
                           self_attr: Optional[str] = None) -> bool:
    """Return True when the variable ``env_variable`` names this plugin.

    The variable's value (``v.environ(env_variable, default=default)``: ``default``, unless NOT_SET, is
    registered as the variable's default) is compared with ``==`` to ``getattr(plugin, self_attr)`` when given,
    else to ``plugin.name()``. A ``(str, Enum)`` attribute (``PROVIDER_NAME = ProviderType.MOCK``) matches the
    string ``'mock'``. Without a value and without a default the answer is False. Use it in ``is_enabled`` to
    choose one implementation of an extension point by configuration.
    """
    value = v.environ(env_variable, default=default) if default is not NOT_SET else v.get(env_variable)
    if value is None:
        return False
    mine = getattr(plugin, self_attr) if self_attr else plugin.name()
    return bool(value == mine)


__all__ = ['Plugin', 'enabled_option_pattern']
