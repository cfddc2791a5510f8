"""The :class:`Plugin` base type: one component that provides the value of an extension point."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Iterable, Optional, TypeVar

from .constants import NOT_SET

if TYPE_CHECKING:  # annotations only: importing api stays free of logging set-up modules
    import logging

    from .variables import Variables

T = TypeVar('T')


class Plugin(Generic[T]):
    """Base class for plugins. Subclass it and override the hooks you need.

    Lifecycle (see the README, "Plugins"): registration (``on_registration``), initialization (``initialize``,
    after the plugin's dependencies; eager plugins at ``init_all_plugins`` or ``register_plugin(init=True)``,
    lazy ones on first ``get_extension``), optional ``async_ready``/``async_stopping`` for asyncio apps, and
    ``shutdown`` in reverse initialization order.

    ``Plugin[T]`` declares the type of the value ``initialize`` returns, so ``get_extension(MyPlugin)`` is typed.
    """

    #: True: initialized by ``register_plugin(..., init=True)`` / ``init_all_plugins``; False: on first use.
    eager: bool = False

    def name(self) -> str:
        """Unique plugin name (default ``module.ClassName``)."""
        cls = type(self)
        return f'{cls.__module__}.{cls.__qualname__}'

    def extension_point_name(self, v: Variables) -> str:
        """Name of the extension point this plugin provides (default: the plugin name)."""
        return self.name()

    def is_enabled(self, v: Variables) -> bool:
        """Whether this plugin is the active implementation of its extension point (default True)."""
        return True

    def is_multi_extension(self, v: Variables) -> bool:
        """True when this plugin contributes one value to a multi extension point (default False)."""
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
        """Release what ``initialize`` acquired; called once, in reverse initialization order."""
        return None

    async def async_ready(self, v: Variables, logger: logging.Logger, value: T) -> None:
        """Optional: awaited by ``async_plugins_ready`` once the event loop runs (dependencies first)."""
        return None

    async def async_stopping(self, v: Variables, logger: logging.Logger, value: T) -> None:
        """Optional: awaited by ``async_plugins_stopping`` before shutdown (reverse order)."""
        return None

    # --- helpers -----------------------------------------------------------------------------------------
    def get_logger(self, v: Variables) -> logging.Logger:
        """Return a child of the app logger named after this plugin's extension point."""
        from ..core.logs import get_logger
        return get_logger(v, name=self.extension_point_name(v))

    def get_my_extension(self, v: Variables) -> T:
        """Return this plugin's own extension point value (initializing it if needed)."""
        from ..core.plugins import get_extension
        return get_extension(self.extension_point_name(v), v)

    def get_extension(self, name: str, v: Variables) -> Any:
        """Return the value of another (single) extension point."""
        from ..core.plugins import get_extension
        return get_extension(name, v)

    def __repr__(self) -> str:
        return f'<Plugin {self.name()}>'


def enabled_option_pattern(plugin: Plugin, v: Variables, env_variable: str, default: Any = NOT_SET,
                           self_attr: Optional[str] = None) -> bool:
    """Return True when the variable ``env_variable`` names this plugin.

    The variable's value is compared with ``plugin.name()`` (or ``getattr(plugin, self_attr)`` when given);
    ``default`` (unless NOT_SET) is registered as the variable's default. Use it in ``is_enabled`` to choose
    one implementation of an extension point by configuration.
    """
    value = v.environ(env_variable, default=default) if default is not NOT_SET else v.get(env_variable)
    if value is None:
        return False
    mine = getattr(plugin, self_attr) if self_attr else plugin.name()
    if callable(mine):
        mine = mine()
    return str(value).strip() == str(mine)
