"""Tests for the Plugin base type's defaults and helpers, and enabled_option_pattern."""

from __future__ import annotations

import logging

import pytest

from scitrera_app_framework.api import NOT_SET, EnvPlacement, Plugin, Variables, enabled_option_pattern


class Bare(Plugin):
    pass


class Named(Plugin):
    impl_id = 'named-impl'

    def name(self) -> str:
        return 'named'

    def extension_point_name(self, v: Variables) -> str:
        return 'saf-t-point'

    def initialize(self, v: Variables, logger: logging.Logger) -> str:
        return 'named-value'


class Other(Plugin):
    def extension_point_name(self, v: Variables) -> str:
        return 'saf-t-other'

    def initialize(self, v: Variables, logger: logging.Logger) -> str:
        return 'other-value'


def test_plugin_defaults() -> None:
    p = Bare()
    v = Variables()
    assert p.name() == f'{__name__}.Bare'
    assert p.extension_point_name(v) == p.name()
    assert p.is_enabled(v) is True
    assert p.is_multi_extension(v) is False
    assert list(p.get_dependencies(v) or ()) == []
    assert p.on_registration(v) is None
    assert p.initialize(v, logging.getLogger('x')) is None
    assert p.shutdown(v, logging.getLogger('x'), None) is None
    assert Bare.eager is True  # as in the original: initialized by init_all_plugins
    assert p.collected is False and p.initialized is False
    assert p.name() in repr(p)


def test_plugin_get_logger_is_child_named_after_extension_point() -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    logger = Named().get_logger(v)
    assert isinstance(logger, logging.Logger)
    assert logger.name.endswith('.saf-t-point')
    assert logger.parent is not None


def test_plugin_extension_helpers() -> None:
    from scitrera_app_framework.core.plugins import register_plugin

    v = Variables()
    p = register_plugin(Named, v)
    register_plugin(Other, v)
    assert p.get_my_extension(v) == 'named-value'
    assert p.get_extension('saf-t-other', v) == 'other-value'
    # also callable on the class
    assert Named.get_extension('saf-t-other', v) == 'other-value'
    assert Named.get_my_extension(v) == 'named-value'
    assert Other.get_my_extension(v) == 'other-value'


def test_plugin_helpers_default_to_the_default_variables() -> None:
    from scitrera_app_framework.core.defaults import get_variables
    from scitrera_app_framework.core.plugins import get_extension, register_plugin
    from scitrera_app_framework.testing import reset_framework

    reset_framework()
    try:
        p = register_plugin(Named)
        assert get_variables() is not None
        assert p.get_my_extension() == 'named-value'
        assert Named.get_my_extension() == 'named-value'
        assert Named.get_extension('saf-t-point') == 'named-value'
        assert p.get_extension(Other) == 'other-value'  # a type: registered on demand
        assert get_extension('saf-t-other') == 'other-value'
    finally:
        reset_framework()


def test_enabled_option_pattern_by_name() -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    p = Named()
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL') is False
    v.set('SAF_T_IMPL', 'named')
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL') is True
    v.set('SAF_T_IMPL', ' named ')  # compared with ==, as in the original
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL') is False
    v.set('SAF_T_IMPL', 'someone-else')
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL') is False


def test_enabled_option_pattern_default_and_self_attr(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    monkeypatch.delenv('SAF_T_IMPL2', raising=False)
    p = Named()
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL2', default='named') is True
    assert v.get('SAF_T_IMPL2') == 'named'  # default registered
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL2', default=NOT_SET, self_attr='impl_id') is False
    monkeypatch.setenv('SAF_T_IMPL2', 'named-impl')
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL2', self_attr='impl_id') is True
    assert enabled_option_pattern(p, v, 'SAF_T_IMPL2') is False
