"""Typed settings: declare a service's configuration once, load it from the environment, print it masked.

Run it as it is, or override anything from the environment::

    SHOP_PORT=9000 SHOP_DB_REPLICAS=db-2,db-3 SHOP_LOG_LEVEL=debug python examples/settings_example.py
"""

from __future__ import annotations

import datetime
import enum
import os
from typing import Annotated, Optional

from scitrera_app_framework import init_framework
from scitrera_app_framework.settings import Secret, Settings, SettingsError, field


class LogLevel(enum.Enum):
    DEBUG = 'debug'
    INFO = 'info'
    WARNING = 'warning'


class DbSettings(Settings, prefix='DB'):
    host: str = 'localhost'
    port: int = 5432
    password: Secret[str]  # required: no default; printed as '****' everywhere
    replicas: list[str] = []  # SHOP_DB_REPLICAS=db-2,db-3
    timeout: datetime.timedelta = field(datetime.timedelta(seconds=5), help='query timeout, in seconds')


class ShopSettings(Settings, prefix='SHOP'):
    port: Annotated[int, 'HTTP port'] = 8080
    log_level: LogLevel = LogLevel.INFO
    max_items: Optional[int] = None  # empty or absent: no limit
    db: DbSettings  # a group: SHOP_DB_HOST, SHOP_DB_PORT, ...


def main() -> None:
    # a deployment would set this in its environment (a Kubernetes secret, a .env file, ...)
    os.environ.setdefault('SHOP_DB_PASSWORD', 'example-only-password')
    v = init_framework('shop-api', stateful=False, shutdown_hooks=False)

    settings = ShopSettings.load(v)
    print(settings)  # secrets masked
    print(f'serving on port {settings.port} with {len(settings.db.replicas)} replica(s), '
          f'db timeout {settings.db.timeout.total_seconds():g}s')
    connect = settings.db.password.get()  # the real value, for the code that needs it
    assert connect and '****' not in connect

    print('configuration reference:')
    for row in ShopSettings.describe():
        default = 'required' if row['required'] else str(row['default'])
        print(f"  {row['variable']:<18} {row['type']:<16} {default:<28} {row['help'] or ''}")

    # a bad value is reported with every other problem at once, the secret masked
    os.environ['SHOP_PORT'] = 'eighty'
    os.environ['SHOP_DB_PASSWORD'] = ''
    try:
        settings.reload()
    except SettingsError as e:
        print(f'reload refused, old values kept (port {settings.port}):\n{e}')
    os.environ['SHOP_PORT'] = '8081'
    os.environ['SHOP_DB_PASSWORD'] = 'another-example-password'
    print(f'after reload: port {settings.reload().port}, password {settings.db.password}')


if __name__ == '__main__':
    main()
