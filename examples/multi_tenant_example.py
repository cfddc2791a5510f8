"""Multi-tenant configuration: per-tenant ``Variables`` and loggers, and the tenant context.

The first lines are the seed README's example (through the original ``muti_tenant`` import path); the rest
shows isolation between tenants and ``tenant_context``. Run it: ``python examples/multi_tenant_example.py``.
It prints what it found to stdout (the log lines go to stderr) and ends with ``OK``.
"""

from __future__ import annotations

from scitrera_app_framework import get_logger, init_framework
from scitrera_app_framework.ext_plugins.multi_tenant import current_tenant, tenant_context
from scitrera_app_framework.ext_plugins.muti_tenant import get_tenant_provider, get_tenant_variables


def main() -> None:
    # --- the seed's example
    v = init_framework('my-app', log_level='DEBUG', multitenant=True)
    # Obtain per-tenant Variables and a logger
    tenant_v = get_tenant_variables('tenant1', v=v)
    tenant_logger = get_logger(tenant_v)
    tenant_logger.info('tenant-specific log')

    # --- each tenant has its own values, separate from the app's own
    v.set('color', 'app-green')
    tenant_v.set('color', 'red')
    get_tenant_variables('tenant2', v=v).set('color', 'blue')
    print('tenant1 color:', get_tenant_variables('tenant1', v=v).get('color'))
    print('tenant2 color:', get_tenant_variables('tenant2', v=v).get('color'))
    print('app color:', v.get('color'))
    print('tenant logger:', tenant_logger.name)

    # --- inside a tenant context, no id is needed and log records carry tenant=<id>
    with tenant_context('tenant1'):
        tv = get_tenant_variables(v=v)
        get_logger(tv).info('handling a request for %s', current_tenant())
        print('current tenant:', current_tenant(), '| color:', tv.get('color'))

    print('provider:', get_tenant_provider(v))
    assert tenant_v.get('color') == 'red' and v.get('color') == 'app-green'
    print('OK')


if __name__ == '__main__':
    main()
