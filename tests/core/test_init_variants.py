"""The test-harness and embedded variants of init_framework (in child interpreters: they touch logging)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME',)

_PROBE = """
import atexit, faulthandler, json, logging, os, signal
signal.signal(signal.SIGINT, signal.default_int_handler)  # as if started from a terminal (not under nohup)
from scitrera_app_framework import get_logger, register_shutdown_function
from scitrera_app_framework.core.core import is_stateful_ready
from scitrera_app_framework.core.shutdown import get_shutdown_manager
os.makedirs('scratch')
cwd0 = os.getcwd()

def probe(v):
    root = logging.getLogger()
    return {'name': get_logger(v).name, 'root_level': logging.getLevelName(root.level),
            'saf_handlers': sum(1 for h in root.handlers if getattr(h, 'saf_handler', False)),
            'sigterm_default': signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
            'sigint_default': signal.getsignal(signal.SIGINT) is signal.default_int_handler,
            'atexit': get_shutdown_manager()._atexit, 'fault_handler': faulthandler.is_enabled(),
            'stateful': is_stateful_ready(v) is not None, 'scratch': os.listdir(os.path.join(cwd0, 'scratch')),
            'chdir': os.getcwd() != cwd0}
"""


def _run(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
    full.update(env)
    proc = subprocess.run([sys.executable, '-c', _PROBE + textwrap.dedent(code)], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, f'rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}'
    return proc


def test_test_harness_variant(tmp_path: Path) -> None:
    proc = _run("""
        from scitrera_app_framework import init_framework_test_harness
        v = init_framework_test_harness()
        register_shutdown_function(print, 'hook-should-not-run')
        print(json.dumps(probe(v)))
        get_logger(v).debug('harness-debug-line')
    """, tmp_path)
    lines = proc.stdout.splitlines()
    assert lines[1:] == []  # no hooks at exit
    assert json.loads(lines[0]) == {
        'name': 'test-harness', 'root_level': 'DEBUG', 'saf_handlers': 1, 'sigterm_default': True,
        'sigint_default': True, 'atexit': False, 'fault_handler': False, 'stateful': False, 'scratch': [],
        'chdir': False,
    }
    assert 'harness-debug-line' in proc.stderr


def test_test_harness_keywords_override_its_defaults(tmp_path: Path) -> None:
    proc = _run("""
        from scitrera_app_framework import init_framework_test_harness
        v = init_framework_test_harness('h', log_level='WARNING', stateful=True, region='eu')
        print(json.dumps(probe(v)))
    """, tmp_path)
    out = json.loads(proc.stdout)
    assert out['name'] == 'h-eu' and out['root_level'] == 'WARNING'
    assert out['stateful'] is True and out['scratch'] == ['h-eu'] and out['chdir'] is True


def test_embedded_variant(tmp_path: Path) -> None:
    proc = _run("""
        from scitrera_app_framework import init_framework_embedded
        v = init_framework_embedded('emb')
        register_shutdown_function(print, 'hook-should-not-run')
        print(json.dumps(probe(v)))
    """, tmp_path)
    assert json.loads(proc.stdout) == {
        'name': 'SAF', 'root_level': 'WARNING', 'saf_handlers': 0, 'sigterm_default': True,
        'sigint_default': True, 'atexit': False, 'fault_handler': False, 'stateful': False, 'scratch': [],
        'chdir': False,
    }
