"""The peer suite: the original 0.0.69's own tests, run against OUR package.

    python tests/differential/peer.py            # or: make peer

1. ``.venv-peer/`` (git-ignored, reused) gets this checkout installed editable, pytest and pytest-asyncio (the
   original's async tests use its marker). The script checks that the venv imports ``scitrera_app_framework`` from
   this checkout.
2. ``pip download --no-deps --no-binary :all: scitrera-app-framework==0.0.69`` fetches the sdist into a temporary
   directory and only its ``tests/`` are extracted there (nothing is committed).
3. The sdist does not ship the ``conftest.py`` its tests use (fixtures ``clean_env``, ``capture_logs``); the
   script writes a small one of its own (below): ``clean_env`` clears framework variables from the environment and
   resets the framework's process state (``scitrera_app_framework.testing.reset_framework``) around the test;
   ``capture_logs`` is a handler that keeps records.
4. pytest runs the tests with a JUnit report; every failure must be in ``ALLOWED`` with its reason (a documented
   difference of README "Differences from the original", or a private name of the original). An allowed test that
   now passes is reported as stale and fails the run too, so the list stays true.

Exit status 0 when every failure is allowed and no allowance is stale. With ``--no-fail-stale`` stale allowances
only warn (for a run right after a fix lands).

``test_k8s_util.py`` skips itself when ``kubernetes`` is not installed (the peer venv does not install it); with
it, its collection would fail on a private import (``k8s.util._is_running_phase``) anyway.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ORIGINAL_VERSION = '0.0.69'
REPO = Path(__file__).resolve().parents[2]
PEER_VENV = REPO / '.venv-peer'
MARKER = PEER_VENV / '.peer-installed'

# test id pattern (fnmatch; file::Class::test, or the file for a collection error) -> why it fails against ours
_PRIVATE = "uses the original's private name {}: an internal, not the API apps use"
ALLOWED: dict[str, str] = {
    # the original's private names (underscore): internals, not the API
    'test_util_imports.py': _PRIVATE.format('util.imports._split_module_name (import at collection)'),
    'test_api_variables.py::TestVariablesBasic::test_keys': _PRIVATE.format('Variables._keys'),
    'test_api_variables.py::TestVariablesExport::test_export_includes_epp_when_requested':
        _PRIVATE.format('Variables._keys'),
    'test_base_plugins.py::TestRegisterPackagePlugins::*': _PRIVATE.format('core.plugins._plugin_registry'),
    'test_core.py::TestInitFrameworkIdempotent::test_init_framework_idempotent_preserves_param_map':
        _PRIVATE.format('core.core._VAR_PARAM_MAP'),
    'test_core.py::TestRegisterShutdownFunction::test_register_shutdown_function':
        _PRIVATE.format('core.core._sigterm_hooks'),
}


def _allowed(tid: str) -> str | None:
    for pattern, reason in ALLOWED.items():
        if fnmatch.fnmatchcase(tid, pattern):
            return reason
    return None


def _python(venv: Path) -> Path:
    return venv / ('Scripts' if os.name == 'nt' else 'bin') / 'python'


def _env() -> dict[str, str]:
    drop = ('SAF_', 'LOGGING_', 'APP_', 'PYTHON', 'PYTEST', 'VIRTUAL_ENV')
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}


def ensure_peer_venv() -> Path:
    py = _python(PEER_VENV)
    stamp = (REPO / 'pyproject.toml').read_text()
    if not (MARKER.exists() and MARKER.read_text() == stamp and py.exists()):
        base = getattr(sys, '_base_executable', None) or sys.executable
        subprocess.run([base, '-m', 'venv', str(PEER_VENV)], check=True)
        subprocess.run([str(py), '-m', 'pip', 'install', '-q', '-e', str(REPO), 'pytest>=7', 'pytest-asyncio',
                        'python-dotenv'], check=True, env=_env())
        MARKER.write_text(stamp)
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([str(py), '-c', 'import scitrera_app_framework as s; print(s.__file__)'], cwd=cwd,
                             capture_output=True, text=True, env=_env(), check=True).stdout.strip()
    if not out.startswith(str(REPO)):
        raise SystemExit(f'the peer venv imports {out}, not this checkout ({REPO})')
    print(f'peer: our package is {out}')
    return py


CONFTEST = '''"""Written by the peer runner (the sdist does not ship the conftest its tests use)."""
import logging
import os

import pytest

from scitrera_app_framework.testing import reset_framework

_FRAMEWORK_ENV = ('SAF_', 'LOGGING_', 'APP_NAME', 'PYROSCOPE', 'STATEFUL', 'DATA_WORKING_PATH')


@pytest.fixture
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.upper().startswith(_FRAMEWORK_ENV):
            monkeypatch.delenv(key, raising=False)
    reset_framework()
    yield
    reset_framework()


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def get_messages(self, level=None):
        return [r.getMessage() for r in self.records if level is None or r.levelno >= level]


@pytest.fixture
def capture_logs():
    return _Capture()
'''


class IndexUnreachable(Exception):
    pass


def fetch_tests(dest: Path) -> Path:
    r = subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--no-binary', ':all:',
                        f'scitrera-app-framework=={ORIGINAL_VERSION}', '-d', str(dest)], env=_env(),
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from oracle import index_reachable
        reachable, detail = index_reachable(sys.executable)
        if not reachable:
            raise IndexUnreachable(detail.strip()[-500:])
        raise SystemExit(f'pip download of the original sdist failed although the index answers:\n{r.stderr}')
    sdist = next(dest.glob('scitrera_app_framework-*.tar.gz'))
    tests = dest / 'peer' / 'tests'
    tests.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == 'tests' and member.isfile() and parts[2].endswith('.py'):
                fh = tar.extractfile(member)
                assert fh is not None
                (tests / parts[2]).write_bytes(fh.read())
    (tests / 'conftest.py').write_text(CONFTEST)
    return tests.parent


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter('testcase'):
        cls = case.get('classname', '')
        name = case.get('name', '')
        if not cls:  # a collection error: name is the module (tests.test_x)
            tid = name.split('.')[-1] + '.py'
        else:
            parts = cls.split('.')
            tid = '::'.join([parts[1] + '.py', *parts[2:], name])
        status, msg = 'passed', ''
        for tag in ('failure', 'error', 'skipped'):
            el = case.find(tag)
            if el is not None:
                status, msg = tag, (el.get('message') or '')[:200]
                break
        out[tid] = (status, msg)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--no-fail-stale', action='store_true', help='stale allowances only warn')
    args = ap.parse_args(argv)
    py = ensure_peer_venv()
    with tempfile.TemporaryDirectory(prefix='saf-peer-') as tmp:
        try:
            root = fetch_tests(Path(tmp))
        except IndexUnreachable as exc:
            banner = '!' * 100
            print(f'{banner}\n!! PEER SUITE SKIPPED: package index unreachable, no sdist of the original: {exc}\n'
                  f'{banner}')
            return 0
        junit = Path(tmp) / 'junit.xml'
        r = subprocess.run([str(py), '-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider',
                            '--continue-on-collection-errors', '-o', 'asyncio_default_fixture_loop_scope=function',
                            f'--junitxml={junit}'], cwd=root, env=_env(), capture_output=True, text=True)
        summary = [ln for ln in r.stdout.splitlines() if re.search(r'\d+ (passed|failed)', ln)]
        outcomes = _outcomes(junit)
    counts: dict[str, int] = {}
    for status, _ in outcomes.values():
        counts[status] = counts.get(status, 0) + 1
    bad = {t: o for t, o in outcomes.items() if o[0] in ('failure', 'error') and _allowed(t) is None}
    allowed = {t: o for t, o in outcomes.items() if o[0] in ('failure', 'error') and _allowed(t) is not None}
    stale = [p for p in ALLOWED if not any(fnmatch.fnmatchcase(t, p) and o[0] in ('failure', 'error')
                                           for t, o in outcomes.items())]
    skipped = {t: o for t, o in outcomes.items() if o[0] == 'skipped'}
    print(f'peer: original {ORIGINAL_VERSION} tests against ours: {counts} ({"; ".join(summary)})')
    for t in sorted(allowed):
        print(f'  allowed  {t}: {_allowed(t)}')
    for t, (_, msg) in sorted(skipped.items()):
        print(f'  skipped  {t}: {msg}')
    for t in stale:
        print(f'  STALE    {t}: no longer fails; remove it from ALLOWED ({ALLOWED[t]})')
    for t, (status, msg) in sorted(bad.items()):
        print(f'  FAILED   {t} ({status}): {msg}')
    print(f'peer: {len(outcomes) - len(bad) - len(allowed) - len(skipped)} passed, {len(bad)} failed, '
          f'{len(allowed)} allowed')
    if bad or (stale and not args.no_fail_stale):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
