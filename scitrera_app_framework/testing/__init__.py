"""Test support: :func:`reset_framework` and a pytest plugin (fixture ``saf``) registered via ``pytest11``.

``reset_framework()`` returns the process to its pre-init state: it stops the default ``Variables``' probe
endpoint, shuts down its plugins, forgets the default ``Variables``, removes the framework's log handler from
the root logger, switches the Prometheus metrics off (unregistering the ``saf_*`` metrics), forgets every
shutdown hook and app, restores the signal handlers it replaced, stops the
shutdown watchdog, forgets the extra secret-name patterns (``SAF_SECRET_KEYS``) and changes back to the working
directory the framework left.
"""

from __future__ import annotations

TYPE_CHECKING = False  # nothing of the framework is imported until reset_framework is used (the pytest plugin
if TYPE_CHECKING:      # loads this package into every pytest run of a project that has the package installed)
    from ._reset import reset_framework


def __getattr__(name: str) -> object:
    if name == 'reset_framework':
        from ._reset import reset_framework
        return reset_framework
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['reset_framework']
