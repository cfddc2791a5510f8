"""Every script in examples/ runs as a subprocess and prints what it should.

Most exit 0 by themselves; the services in ``SERVICES`` run until SIGTERM and have their own tests below.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
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
    'observability_example.py': (['observability example done'], ['processing order o-1']),
    'settings_example.py': (["ShopSettings(port=8080", "password=Secret('****')", 'SHOP_DB_PASSWORD',
                             'reload refused, old values kept (port 8080)', 'after reload: port 8081, password ****'],
                            []),
}


# long-running examples (stopped with SIGTERM by their own test)
SERVICES = ('http_service.py', 'fastapi_service.py')
# command-line tools (need arguments; tests/test_cli_tool_example.py runs them)
CLI_TOOLS = ('cli_tool.py',)


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob('*.py')) == sorted(
        name for name in (*EXPECTED, *SERVICES, *CLI_TOOLS) if (EXAMPLES / name).exists())


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


def _example_env(**extra: str) -> dict[str, str]:
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'PYROSCOPE_'))}
    env.pop('APP_NAME', None)
    env.update(extra)
    return env


def _wait_for(lines: list[str], pattern: str, proc: subprocess.Popen, timeout: float) -> re.Match:
    """Return the first match of ``pattern`` in the lines read so far, waiting up to ``timeout`` seconds."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            m = rx.search(line)
            if m:
                return m
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail(f'{pattern!r} not seen (exit code {proc.poll()}):\n' + ''.join(lines))


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


def _start_example(name: str, env: dict[str, str], tmp_path: Path
                   ) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """Start ``examples/<name>`` as a child; its output (stderr merged) is collected line by line by the returned
    thread (join it before reading all of it)."""
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / name)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, reader


def test_http_service_serves_probes_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = _example_env(HTTP_PORT='0', SAF_HEALTH_PORT='0', PYTHONUNBUFFERED='1')
    proc, lines, reader = _start_example('http_service.py', env, tmp_path)
    try:
        health = _wait_for(lines, r'health endpoint listening on http://([0-9.]+):(\d+) ', proc, 60)
        app = _wait_for(lines, r'serving http://([0-9.]+):(\d+)/hello', proc, 60)
        health_url = f'http://{health.group(1)}:{health.group(2)}'
        app_url = f'http://{app.group(1)}:{app.group(2)}'
        assert _get(f'{app_url}/hello') == (200, b'{"hello": "world"}')
        status, body = _get(f'{health_url}/readyz')
        assert (status, json.loads(body)) == (200, {'ready': True})
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)
    out = ''.join(lines)
    assert code == 0, out
    assert 'http-service stopped: shutdown hook ran' in out, out
    assert out.count('health endpoint listening') == 1, out
    assert 'Traceback' not in out, out
    assert 'I/O operation on closed file' not in out


@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_fastapi_service_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = _example_env(HTTP_PORT='0', PYTHONUNBUFFERED='1', SAF_SHUTDOWN_DRAIN_SECONDS='0.3', GREETING='hi')
    proc, lines, reader = _start_example('fastapi_service.py', env, tmp_path)
    try:
        m = _wait_for(lines, r'Uvicorn running on http://([0-9.]+):(\d+)', proc, 60)
        url = f'http://{m.group(1)}:{m.group(2)}'
        req = urllib.request.Request(f'{url}/greeting', headers={'X-Request-ID': 'example-1'})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert (resp.status, json.loads(resp.read())) == (200, {'greeting': 'hi'})
            assert resp.headers['X-Request-ID'] == 'example-1'
        with urllib.request.urlopen(urllib.request.Request(f'{url}/reports', method='POST'), timeout=10) as resp:
            assert (resp.status, json.loads(resp.read())) == (202, {'queued': True})
        assert _get(f'{url}/readyz') == (200, b'{"ready":true}')
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)
    out = ''.join(lines)
    assert code == 0, out
    assert 'greeting asked [request_id=example-1]' in out, out  # the app's line and uvicorn's access line
    assert '"GET /greeting HTTP/1.1" 200 [request_id=example-1]' in out, out
    assert out.index('fastapi-service: report 1 built') < out.index('fastapi-service: shutdown hook ran'), out
    assert re.search(r'stopped \(exit 0\) in [0-9.]+ s', out.strip().splitlines()[-1]), out
    assert 'Traceback' not in out, out
