"""A tenant provider in the original's style: constructed with ``v`` alone, sources from ``_tenant_sources``."""

from scitrera_app_framework.ext_plugins.muti_tenant import BaseMultiTenantProvider

TENANT_SETTINGS = {
    'acme': {'PLAN': 'gold', 'SEATS': '25'},
    'globex': {'PLAN': 'silver', 'SEATS': '5'},
}


class StaticTenantProvider(BaseMultiTenantProvider):
    def _tenant_sources(self, tenant_id):
        return [TENANT_SETTINGS.get(tenant_id, {})]
