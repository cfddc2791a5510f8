"""Seed example (from the tests): several plugins contributing to one multi extension point."""

from scitrera_app_framework import get_extensions, init_framework, register_plugin
from scitrera_app_framework.api import Plugin, Variables

EXT = 'example-ext'


class ImplA(Plugin):
    def extension_point_name(self, v: Variables):
        return EXT

    def is_multi_extension(self, v: Variables):
        return True

    def initialize(self, v, logger):
        return 'A'


class ImplB(ImplA):
    def initialize(self, v, logger):
        return 'B'


init_framework('my-app')
register_plugin(ImplA)
register_plugin(ImplB)
print(get_extensions(EXT))  # {'__main__.ImplA': 'A', '__main__.ImplB': 'B'}
print(list(get_extensions(EXT).values()))  # ['A', 'B']
