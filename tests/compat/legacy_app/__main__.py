"""Runs the legacy app and prints one line per feature it uses."""

import os

from scitrera_app_framework import get_extension, init_framework, register_plugin
from scitrera_app_framework.core import is_stateful_ready, load_strategy, log_framework_variables
from scitrera_app_framework.k8s.util import fixed_env_vars, get_metadata_namespace, get_pod_env, merge_env_vars

from .plugins import Codec, GreeterPlugin
from .tenants import StaticTenantProvider


def main():
    v = init_framework('legacy-app', stateful=False)
    v2 = init_framework('ignored-second-name', v=v)
    print('same variables:', v2 is v)

    register_plugin(GreeterPlugin, v)  # registered after init: initialized on first use, config first
    from .plugins import ConfigPlugin
    register_plugin(ConfigPlugin, v)
    print('greeting:', get_extension('greeter')('world'))
    print('my extension:', GreeterPlugin.get_extension('config')['greeting'])

    provider = StaticTenantProvider(v)
    print('tenant plan:', provider['acme'].get('PLAN'), provider.get('globex').get('SEATS'))

    codec_type, codec_kwargs = load_strategy(v, Codec, prefix='CODEC')
    print('strategy:', codec_type.__name__, sorted(codec_kwargs.items()))

    db = v.import_from_env_by_prefix('LEGACY_DB')
    cache = v.import_from_env_by_prefix('LEGACY_CACHE')
    print('prefixes:', db['host'], cache['host'], v.export_all_variables()['LEGACY_DB_HOST'])
    print('get_or_set:', v.get_or_set('registry', dict) == {}, v.get_or_set('registry', list) == {})
    v.set_type_default('port', 8080, int)
    print('port:', v.get('port') + 1)

    env = fixed_env_vars(image_tag='v1', debug=True)
    env = merge_env_vars(env, {'name': 'CFG', 'valueFrom': {'configMapKeyRef': {'name': 'cm', 'key': 'k'}}},
                         extra='x')
    print('k8s env:', [(e['name'], e.get('value')) for e in env])
    print('k8s absent:', get_metadata_namespace({'metadata': {'name': 'p'}}), get_pod_env({'spec': {}}))

    print('stateful:', is_stateful_ready(v))
    log_framework_variables(v, ('LEGACY_',))
    print('cwd unchanged:', os.path.basename(os.getcwd()) == 'run')


if __name__ == '__main__':
    main()
