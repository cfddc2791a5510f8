"""An app written for the original 0.0.69 runs unchanged on ours (see ``legacy_app``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')


def test_legacy_app_runs_unchanged(tmp_path: Path) -> None:
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    env.update({
        'PYTHONPATH': os.pathsep.join([str(HERE), env.get('PYTHONPATH', '')]).rstrip(os.pathsep),
        'CODEC_TYPE': 'legacy_app.plugins.JsonCodec', 'CODEC_INDENT': '2', 'CODEC_SORT_KEYS': 'true',
        'LEGACY_DB_HOST': 'db.local', 'LEGACY_CACHE_HOST': 'cache.local', 'GREETING': 'hi',
        'SAF_MULTITENANT_ENABLED': 'false',
    })
    p = subprocess.run([sys.executable, '-m', 'legacy_app'], cwd=run_dir, env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        'same variables: True',
        'greeting: hi, world',
        'my extension: hi',
        'tenant plan: gold 5',
        "strategy: JsonCodec [('indent', '2'), ('sort_keys', 'true')]",
        'prefixes: db.local cache.local db.local',
        'get_or_set: True True',
        'port: 8081',
        "k8s env: [('IMAGE_TAG', 'v1'), ('DEBUG', 'True'), ('CFG', None), ('EXTRA', 'x')]",
        'k8s absent: None None',
        'stateful: None',
        'cwd unchanged: True',
        'greeter shut down',
    ], p.stderr
    assert 'framework variables: LEGACY_CACHE_HOST=' in p.stderr
    assert 'Traceback' not in p.stderr
