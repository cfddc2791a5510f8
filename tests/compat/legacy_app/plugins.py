"""Plugins in the original's style: eager by default, extensions fetched without passing ``v``."""

from scitrera_app_framework import Plugin


class ConfigPlugin(Plugin):
    def extension_point_name(self, v):
        return 'config'

    def initialize(self, v, logger):
        return {'greeting': v.environ('GREETING', default='hello')}


class GreeterPlugin(Plugin):
    def extension_point_name(self, v):
        return 'greeter'

    def get_dependencies(self, v):
        return ('config',)

    def initialize(self, v, logger):
        config = self.get_extension('config')  # no v: the default Variables
        return lambda name: f"{config['greeting']}, {name}"

    def shutdown(self, v, logger, value):
        print('greeter shut down', flush=True)


class Codec:
    def __init__(self, **options):
        self.options = options


class JsonCodec(Codec):
    pass
