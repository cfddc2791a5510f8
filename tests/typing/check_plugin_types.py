"""Static typing checks, run by mypy in ``make lint`` (not collected by pytest: the file name has no test_).

``get_extension(MyPlugin)`` must be typed as the plugin's value type ``T`` when the plugin declares
``Plugin[T]``; the untyped forms (a name, an unparametrized Plugin) stay ``Any``.
"""

from __future__ import annotations

import logging
from typing import Any

from typing_extensions import assert_type

from scitrera_app_framework import Plugin, Variables, get_extension, register_plugin


class Service:
    def ping(self) -> str:
        return 'pong'


class ServicePlugin(Plugin[Service]):
    def initialize(self, v: Variables, logger: logging.Logger) -> Service:
        return Service()


class Untyped(Plugin[Any]):
    def initialize(self, v, logger):  # type: ignore[no-untyped-def]
        return 42


def check(v: Variables) -> None:
    svc = get_extension(ServicePlugin, v)
    assert_type(svc, Service)
    assert_type(svc.ping(), str)
    assert_type(get_extension('by-name', v), Any)
    assert_type(register_plugin(ServicePlugin, v), Plugin[Service])
    get_extension(Untyped, v)
