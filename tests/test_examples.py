"""Every script in examples/ runs as a subprocess, exits 0 by itself, and prints what it should."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'

# script -> (strings expected in stdout, strings expected in stderr)
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    'quickstart.py': ([], ['starting app=my-app image=my-app version=DEV', 'Hello from SAF!',
                           'my-app.child', 'Hello from SAF child logger!']),
    'background_job.py': (['background task'], []),
    'multi_extension.py': (["['A', 'B']", "'__main__.ImplA': 'A'"], []),
    'service.py': (['demo finished: 4 batches'], ['app=demo-service-local', 'overall progress',
                                                   'all 4 batches done', 'store closed with 4 results']),
    'asyncio_app.py': (['db ready\napi ready\nserved 0 requests\napi stopping\ndb stopping'], []),
    'multi_tenant_example.py': ([], ['tenant-specific log']),
    'tenant_directory_example.py': ([], []),
    'pyroscope_example.py': (['pyroscope example done'], []),
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob('*.py')) == sorted(
        name for name in EXPECTED if (EXAMPLES / name).exists())


@pytest.mark.parametrize('script', sorted(EXPECTED))
def test_example_runs(script: str, tmp_path: Path) -> None:
    path = EXAMPLES / script
    if not path.exists():
        pytest.fail(f'{script} is listed but missing from examples/')
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'PYROSCOPE_'))}
    env.pop('APP_NAME', None)
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, f'{script} failed:\n{proc.stdout}\n{proc.stderr}'
    out_expected, err_expected = EXPECTED[script]
    for s in out_expected:
        assert s in proc.stdout, f'{script}: {s!r} not in stdout:\n{proc.stdout}\n{proc.stderr}'
    for s in err_expected:
        assert s in proc.stderr, f'{script}: {s!r} not in stderr:\n{proc.stderr}'
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert 'I/O operation on closed file' not in proc.stderr
