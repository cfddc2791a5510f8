"""Per-tenant settings files with ``DirectoryTenantProvider``.

Writes two tenants' settings into a temporary directory (``acme.yaml`` and ``globex.env``), points
``SAF_MULTITENANT_DIR`` at it, selects the provider with ``SAF_MULTITENANT_PROVIDER`` and reads the settings
back. Run it: ``python examples/tenant_directory_example.py``; it prints what it read and ends with ``OK``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from scitrera_app_framework import get_logger, init_framework
from scitrera_app_framework.ext_plugins.multi_tenant import (
    TenantIdError,
    get_tenant_provider,
    get_tenant_variables,
    tenant_context,
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tenants_dir:
        Path(tenants_dir, 'acme.yaml').write_text('plan: gold\nseats: 25\nfeatures: [sso, audit]\n')
        Path(tenants_dir, 'globex.env').write_text('PLAN=silver\nSEATS=5\n')

        os.environ['SAF_MULTITENANT_PROVIDER'] = (
            'scitrera_app_framework.ext_plugins.multi_tenant.DirectoryTenantProvider')
        os.environ['SAF_MULTITENANT_DIR'] = tenants_dir
        os.environ['SAF_MULTITENANT_CACHE_SIZE'] = '1000'  # at most 1000 tenants' Variables in memory
        v = init_framework('tenant-dir-example', multitenant=True, stateful=False, shutdown_hooks=False)

        acme = get_tenant_variables('acme', v=v)
        print(f"acme: plan={acme.get('plan')} seats={acme.get('seats')} features={acme.get('features')}")
        globex = get_tenant_variables('globex', v=v)
        print(f"globex: plan={globex.get('PLAN')} seats={globex.get('SEATS')}")
        newcomer = get_tenant_variables('newcomer', v=v)  # no file: no settings, defaults apply
        print(f"newcomer: plan={newcomer.environ('plan', default='free')}")

        with tenant_context('acme'):
            get_logger(get_tenant_variables(v=v)).info('acme is on the %s plan', acme.get('plan'))

        try:
            get_tenant_variables('../etc/passwd', v=v)
        except TenantIdError as e:
            print('rejected:', e)

        print('provider:', get_tenant_provider(v))
        assert acme.get('seats') == 25 and globex.get('PLAN') == 'silver'
        print('OK')


if __name__ == '__main__':
    main()
