"""examples/cli_tool.py as a user runs it: a real child process, with a plugin from a second distribution that the
test builds and pip-installs (``pip install --target``, put on ``PYTHONPATH``: found by its dist-info entry points
like any installed distribution)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / 'examples' / 'cli_tool.py'
SECRET = 'hunter2-SECRET'

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "wordtool-extras"
version = "1.0"

[project.entry-points."scitrera_app_framework.plugins"]
reverse = "wordtool_extras:Reverse"
thesaurus = "wordtool_extras:Thesaurus"

[tool.setuptools]
py-modules = ["wordtool_extras"]
'''

MODULE = '''
from scitrera_app_framework import Plugin


class Reverse(Plugin):
    def extension_point_name(self, v):
        return 'wordtool.filters'

    def is_multi_extension(self, v):
        return True

    def initialize(self, v, logger):
        return lambda text: text[::-1]


class Thesaurus(Plugin):
    """On only when WORDTOOL_THESAURUS_URL is set; its service is never there."""

    def extension_point_name(self, v):
        return 'wordtool.filters'

    def is_multi_extension(self, v):  # a contributor only when its service is configured
        return bool(v.environ('WORDTOOL_THESAURUS_URL', default=''))

    def is_enabled(self, v):  # never the single implementation of the point
        return False

    def initialize(self, v, logger):
        raise ConnectionError(f"cannot reach the thesaurus at {v.get('WORDTOOL_THESAURUS_URL')}")
'''


@pytest.fixture(scope='module')
def extras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The second distribution, built from source and installed by pip into its own directory."""
    root = tmp_path_factory.mktemp('extras')
    src = root / 'src'
    src.mkdir()
    (src / 'pyproject.toml').write_text(PYPROJECT)
    (src / 'wordtool_extras.py').write_text(MODULE)
    site = root / 'site'
    base = [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--disable-pip-version-check',
            '--target', str(site)]
    # offline first (the venv's setuptools builds it), else pip's isolated build (fetches the build backend)
    # (a setuptools too old for PEP 621 metadata, as in a Python 3.9 venv, builds an UNKNOWN-0.0.0 offline)
    dist_info = site / 'wordtool_extras-1.0.dist-info' / 'entry_points.txt'
    p = subprocess.run([*base, '--no-build-isolation', str(src)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0 or not dist_info.exists():
        shutil.rmtree(site, ignore_errors=True)
        p = subprocess.run([*base, str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert dist_info.exists(), sorted(x.name for x in site.iterdir())
    return site


def wordtool(*args: str, site: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'WORDTOOL_'))}
    full.pop('PYTHONPATH', None)
    if site is not None:
        full['PYTHONPATH'] = str(site)
    full.update(env)
    return subprocess.run([sys.executable, str(EXAMPLE), *args], env=full, capture_output=True, text=True,
                          timeout=60, cwd=str(EXAMPLE.parent))


def test_help_lists_sub_commands_and_settings_without_secret_values() -> None:
    p = wordtool('--help', WORDTOOL_API_TOKEN=SECRET)
    assert p.returncode == 0 and p.stderr == ''
    out = ' '.join(p.stdout.split())
    for s in ('count count the words of TEXT', 'shout TEXT, loudly', 'filter TEXT through every installed filter',
              '--repeat INT print each result this many times (default: 1; env WORDTOOL_REPEAT)',
              '--upper, --no-upper upper-case the results (default: False; env WORDTOOL_UPPER)',
              '--api-token TEXT token for the dictionary service (never shown) (secret; env WORDTOOL_API_TOKEN)',
              '--debug'):
        assert s in out, out
    assert SECRET not in p.stdout


def test_sub_commands_and_settings_from_options_or_the_environment() -> None:
    p = wordtool('count', 'the quick brown fox')
    assert (p.returncode, p.stdout, p.stderr) == (0, '4\n', '')  # no start line, nothing on stderr
    for args in (('--repeat', '2', 'shout', 'hello'), ('shout', 'hello', '--repeat=2')):
        p = wordtool(*args)
        assert (p.returncode, p.stdout) == (0, 'HELLO!\nHELLO!\n'), p.stderr
    p = wordtool('--repeat', '2', 'count', 'a b', WORDTOOL_REPEAT='5', WORDTOOL_UPPER='true')
    assert p.stdout == '2\n2\n'  # the command line beats the environment; the rest comes from it
    p = wordtool('--no-upper', 'shout', 'x', WORDTOOL_UPPER='true')
    assert p.stdout == 'X!\n'


def test_a_bad_flag_and_a_bad_value_are_one_line_exit_2() -> None:
    p = wordtool('count', 'x', '--bogus')
    assert p.returncode == 2 and p.stdout == ''
    assert p.stderr.splitlines() == ['wordtool: error: unrecognized arguments: --bogus; see wordtool --help']
    p = wordtool('--repaet', '2', 'count', 'x')
    assert p.returncode == 2 and 'did you mean --repeat?' in p.stderr and len(p.stderr.splitlines()) == 1
    p = wordtool('count', 'x', WORDTOOL_REPEAT='lots')
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, p.stderr
    assert "WORDTOOL_REPEAT (repeat): invalid value 'lots' from the environment" in p.stderr
    p = wordtool('--repeat', 'lots', 'count', 'x')
    assert p.returncode == 2 and "argument --repeat: invalid int value: 'lots'" in p.stderr


def test_debug_before_or_after_the_sub_command() -> None:
    """``--debug``, like the settings options, works before and after the sub-command."""
    for args in (('--debug', 'count', 'x'), ('count', 'x', '--debug')):
        p = wordtool(*args, WORDTOOL_REPEAT='lots')
        assert p.returncode == 2, p.stderr
        assert 'Traceback' in p.stderr and "WORDTOOL_REPEAT (repeat): invalid value 'lots'" in p.stderr, p.stderr
        assert '--debug for the traceback' not in p.stderr


def test_a_plugin_from_another_distribution(extras: Path) -> None:
    p = wordtool('filter', 'hello', site=extras)
    assert (p.returncode, p.stdout, p.stderr) == (0, 'olleh\n', '')
    p = wordtool('filter', 'hello')  # not installed
    assert p.returncode == 1 and 'no filter plugins installed' in p.stdout


def test_a_failing_plugin_is_one_line_exit_2(extras: Path) -> None:
    url = f'https://reader:{SECRET}@127.0.0.1:9/'
    p = wordtool('filter', 'hello', site=extras, WORDTOOL_THESAURUS_URL=url)
    assert p.returncode == 2 and p.stdout == ''
    assert p.stderr.splitlines() == [
        "wordtool: error: plugin 'wordtool_extras.Thesaurus' (extension point 'wordtool.filters') failed to "
        'initialize: ConnectionError: cannot reach the thesaurus at https://reader:****@127.0.0.1:9/ '
        '(--debug for the traceback)'], p.stderr
    p = wordtool('--debug', 'filter', 'hello', site=extras, WORDTOOL_THESAURUS_URL=url)
    assert p.returncode == 2 and 'Traceback (most recent call last)' in p.stderr


def test_saf_shows_the_tool_and_its_failing_plugin(extras: Path) -> None:
    env = {'PYTHONPATH': os.pathsep.join([str(extras), str(EXAMPLE.parent)])}
    full = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'WORDTOOL_'))}
    full.update(env, WORDTOOL_THESAURUS_URL='http://127.0.0.1:9/')
    p = subprocess.run([sys.executable, '-m', 'scitrera_app_framework', 'plugins', '--app', 'cli_tool:setup'],
                       env=full, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    rows = {ln.split()[0]: ln for ln in p.stdout.splitlines()[2:]}
    assert 'initialized' in rows['wordtool_extras.Reverse'] and 'failed' in rows['wordtool_extras.Thesaurus']
    assert 'cannot reach the thesaurus' in rows['wordtool_extras.Thesaurus']
    full.pop('WORDTOOL_THESAURUS_URL')
    p = subprocess.run([sys.executable, '-m', 'scitrera_app_framework', 'config', '--app', 'cli_tool:setup'],
                       env=full, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and 'WORDTOOL_REPEAT' in p.stdout and 'SAF_' not in p.stdout.split('(')[0]


def test_a_failing_plugin_is_skipped_with_the_skip_policy(extras: Path) -> None:
    p = wordtool('filter', 'hello', site=extras, WORDTOOL_THESAURUS_URL='http://127.0.0.1:9/',
                 SAF_PLUGIN_FAILURES='skip')
    assert (p.returncode, p.stdout) == (0, 'olleh\n'), p.stderr
    warnings = [ln for ln in p.stderr.splitlines() if 'WARNING' in ln]
    assert len(warnings) == 1 and 'wordtool_extras.Thesaurus' in warnings[0] and 'wordtool.filters' in warnings[0]
    assert 'cannot reach the thesaurus' in warnings[0]
