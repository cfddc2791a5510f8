"""Entry-point discovery with a real (tiny) distribution built on disk: package + .dist-info on sys.path."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.plugins import describe_plugins, get_extension, register_entry_point_plugins

GROUP = 'scitrera_app_framework.plugins'
DIST = 'saf-ep-demo'


@pytest.fixture
def demo_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pkg = tmp_path / 'saf_ep_demo'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(textwrap.dedent('''
        from scitrera_app_framework.api import Plugin


        class DemoPlugin(Plugin):
            def extension_point_name(self, v):
                return 'saf-ep-demo-point'

            def initialize(self, v, logger):
                return 'hello from saf-ep-demo'


        class NotAPlugin:
            pass


        NOT_A_PLUGIN = 42
    '''))
    info = tmp_path / 'saf_ep_demo-0.1.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: saf-ep-demo\nVersion: 0.1\n')
    (info / 'entry_points.txt').write_text(textwrap.dedent(f'''
        [{GROUP}]
        demo = saf_ep_demo:DemoPlugin
        broken-import = saf_ep_missing_module_xyz:Thing
        not-a-plugin = saf_ep_demo:NotAPlugin
        not-a-class = saf_ep_demo:NOT_A_PLUGIN
        missing-attr = saf_ep_demo:NoSuchName

        [some.other.group]
        ignored = saf_ep_demo:DemoPlugin
    '''))
    (info / 'RECORD').write_text('')
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for name in [m for m in sys.modules if m == 'saf_ep_demo' or m.startswith('saf_ep_demo.')]:
        del sys.modules[name]


def test_distribution_is_visible(demo_dist: Path) -> None:
    from importlib import metadata

    assert metadata.version(DIST) == '0.1'


def test_register_entry_point_plugins(demo_dist: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    v = Variables()
    registered = register_entry_point_plugins(v)
    ours = [p for p in registered if type(p).__module__ == 'saf_ep_demo']
    assert len(ours) == 1
    plugin = ours[0]
    assert isinstance(plugin, Plugin)
    assert type(plugin).__name__ == 'DemoPlugin'
    assert plugin.name() == 'saf_ep_demo.DemoPlugin'
    assert get_extension('saf-ep-demo-point', v) == 'hello from saf-ep-demo'
    assert 'saf_ep_demo.DemoPlugin' in [d['name'] for d in describe_plugins(v)]

    # every broken entry point is logged with the distribution's name and skipped
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for ep_name, detail in (('broken-import', 'saf_ep_missing_module_xyz'), ('not-a-plugin', 'NotAPlugin'),
                            ('not-a-class', 'NOT_A_PLUGIN'), ('missing-attr', 'NoSuchName')):
        hits = [m for m in warnings if ep_name in m]
        assert len(hits) == 1, (ep_name, warnings)
        assert DIST in hits[0], hits[0]
        assert detail in hits[0], hits[0]


def test_register_entry_point_plugins_twice_is_noop(demo_dist: Path) -> None:
    v = Variables()
    first = [p for p in register_entry_point_plugins(v) if type(p).__module__ == 'saf_ep_demo']
    second = [p for p in register_entry_point_plugins(v) if type(p).__module__ == 'saf_ep_demo']
    assert first and first[0] is second[0]
    assert [d['name'] for d in describe_plugins(v)].count('saf_ep_demo.DemoPlugin') == 1


def test_register_entry_point_plugins_other_group(demo_dist: Path) -> None:
    v = Variables()
    registered = register_entry_point_plugins(v, group='some.other.group')
    assert [type(p).__name__ for p in registered] == ['DemoPlugin']
    assert register_entry_point_plugins(Variables(), group='saf.no.such.group.xyz') == []
