"""``slaunch.manifest`` is the public surface of the manifest code (that importing it stays cheap is checked by
``test_slaunch_cli.test_import_is_cheap``, through ``slaunch.main``)."""

from __future__ import annotations

from scitrera_app_framework.slaunch import installer, manifest

PUBLIC = {
    'FORMAT_VERSION', 'DEFAULT_KEEP_VERSIONS', 'EnvironmentSpec', 'LibSpec', 'AppSpec', 'Manifest', 'load_manifest',
    'parse_manifest_text', 'python_satisfies', 'check_python_requirement',
}


def test_manifest_all_names_the_public_api() -> None:
    assert set(manifest.__all__) == PUBLIC
    assert len(manifest.__all__) == len(PUBLIC)
    assert manifest.FORMAT_VERSION == 1 and manifest.DEFAULT_KEEP_VERSIONS == 2


def test_parse_manifest_text_and_load_manifest_agree() -> None:
    text = 'environments: {main: {}}\napps: {a: {version: "1", entry: a.cli}}\n'
    parsed = manifest.parse_manifest_text(text, origin='m.yaml', base='/base')
    loaded = manifest.load_manifest({'environments': {'main': {}}, 'apps': {'a': {'version': '1', 'entry': 'a.cli'}}},
                                    base='/base')
    assert parsed.apps == loaded.apps and parsed.environments == loaded.environments
    assert parsed.origin == 'm.yaml' and loaded.origin == '<dict>'


def test_one_logger_name() -> None:
    assert installer.LOGGER_NAME == 'scitrera_app_framework.slaunch'

