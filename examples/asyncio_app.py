"""An asyncio app using the async plugin lifecycle: async_ready after start-up, async_stopping before shutdown.

Plugins are initialized synchronously (dependencies first); once the event loop runs,
``async_plugins_ready`` awaits each plugin's ``async_ready`` in initialization order, and
``async_plugins_stopping`` awaits ``async_stopping`` in reverse order before the loop ends.
"""

from __future__ import annotations

import asyncio
import logging

from scitrera_app_framework import (
    Plugin,
    Variables,
    async_plugins_ready,
    async_plugins_stopping,
    get_extension,
    init_framework,
    register_plugin,
)


class Database(Plugin[dict]):
    eager = True

    def extension_point_name(self, v: Variables) -> str:
        return 'db'

    def initialize(self, v: Variables, logger: logging.Logger) -> dict:
        return {'connected': False}

    async def async_ready(self, v: Variables, logger: logging.Logger, value: dict) -> None:
        await asyncio.sleep(0.01)  # e.g. open an async connection pool
        value['connected'] = True
        print('db ready')

    async def async_stopping(self, v: Variables, logger: logging.Logger, value: dict) -> None:
        value['connected'] = False
        print('db stopping')


class Api(Plugin[list]):
    eager = True

    def extension_point_name(self, v: Variables) -> str:
        return 'api'

    def get_dependencies(self, v: Variables):
        return ('db',)

    def initialize(self, v: Variables, logger: logging.Logger) -> list:
        return []

    async def async_ready(self, v: Variables, logger: logging.Logger, value: list) -> None:
        assert get_extension('db', v)['connected'], 'db must be ready before the api'
        print('api ready')

    async def async_stopping(self, v: Variables, logger: logging.Logger, value: list) -> None:
        print('api stopping')


async def serve(v: Variables) -> None:
    await async_plugins_ready(v)
    try:
        await asyncio.sleep(0.05)  # the app's real work
        print('served', len(get_extension('api', v)), 'requests')
    finally:
        await async_plugins_stopping(v)


def main() -> None:
    v = init_framework('async-app', stateful=False)
    register_plugin(Database, v)
    register_plugin(Api, v, init=True)
    asyncio.run(serve(v))


if __name__ == '__main__':
    main()
