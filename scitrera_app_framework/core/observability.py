"""The observability step of ``init_framework``: Prometheus metrics and the OpenTelemetry plugin, when switched on.

``init_framework(..., metrics=True)`` / ``SAF_METRICS_ENABLED=true`` switches the framework's Prometheus metrics on
(:mod:`.metrics`); ``init_framework(..., otel=True)`` / ``SAF_OTEL_ENABLED=true`` registers and initializes the
OpenTelemetry plugin (:mod:`scitrera_app_framework.ext_plugins.otel_plugin`) before the other plugins, so their
initialization is traced. Both keywords are switches, never app parameters. A missing optional package is one
warning naming the extra to install; the app starts without that part.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..util.parsing import parse_bool_strict

if TYPE_CHECKING:  # pragma: no cover
    from ..api.variables import Variables

OTEL_ENABLED_VAR = 'SAF_OTEL_ENABLED'

_log = logging.getLogger('saf.observability')


def start_observability(v: Variables, otel: bool = False, metrics: bool = False) -> None:
    """Switch metrics on and register the OpenTelemetry plugin as configured (``SAF_METRICS_ENABLED``,
    ``SAF_OTEL_ENABLED``, defaulting to the keywords). Returns None.

    Raises:
        VariableTypeError: one of the switches is not a boolean.
    """
    from .metrics import MetricsUnavailableError, enable_metrics_from_env
    try:
        enable_metrics_from_env(v, default=metrics)
    except MetricsUnavailableError as e:
        _log.warning('%s', e)
    if v.environ(OTEL_ENABLED_VAR, default=otel, type_fn=parse_bool_strict):
        from ..ext_plugins.otel_plugin import OTelPlugin
        from .plugins import register_plugin
        register_plugin(OTelPlugin, v, init=True)


__all__ = ['OTEL_ENABLED_VAR', 'start_observability']
