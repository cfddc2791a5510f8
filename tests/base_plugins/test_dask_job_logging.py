"""A job that logs with ``get_logger(name='job')`` on Dask workers gets the app's logging identity: the logger
``<app>.job``, the app's format, static fields and level, and no "called before init_framework()" warning. Real
LocalClusters: the embedded one (its workers write to the app's stderr) and an external one started by another
process (its workers write to that process's stderr)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.needs_dask

TIMEOUT = 120.0

JOBS_MODULE = r'''
import os
from scitrera_app_framework import get_logger

log = get_logger(name='mod')  # at import, on the worker: the module is imported when the first job arrives


def modjob(n):
    log.info('module logger line %s', n)
    return os.getpid()
'''

APP = r'''
import json, os, sys


def job(n):
    from scitrera_app_framework import get_logger
    log = get_logger(name='job')
    log.debug('hidden debug line %s', n)
    log.info('job line %s', n)
    return os.getpid()


if __name__ == '__main__':
    from scitrera_app_framework import init_framework
    from scitrera_app_framework.base_plugins import get_background_exec

    v = init_framework('jobapp', base_plugins=True, region='eu')
    from jobs_mod import modjob  # after init_framework: its import-time get_logger has the app's identity here
    ex = get_background_exec(v)
    pids = [ex.submit(job, i).result(60) for i in range(2)] + [ex.submit(modjob, 0).result(60)]
    print(json.dumps({'app': os.getpid(), 'workers': pids}), flush=True)
'''

def _env(**extra: str) -> dict[str, str]:
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'BUILD_'))}
    env.update({'SAF_JOB_BACKEND': 'dask', 'SAF_JOB_THREADS': '1', 'LOGGING_FORMAT': 'json',
                'LOGGING_LEVEL': 'INFO', 'BUILD_CONTAINER_VERSION': '1.2.3', 'SAF_SHUTDOWN_TIMEOUT': '60'})
    env.update(extra)
    return env


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith('{'):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def _check_job_lines(worker_text: str, app_pid: int) -> None:
    assert 'before init_framework' not in worker_text, worker_text[-4000:]
    records = {r['message']: r for r in _json_lines(worker_text)}
    for message, logger in (('job line 0', 'jobapp-eu.job'), ('job line 1', 'jobapp-eu.job'),
                            ('module logger line 0', 'jobapp-eu.mod')):
        assert message in records, (message, worker_text[-4000:])
        r = records[message]
        assert r['logger'] == logger, r
        assert r['level'] == 'INFO' and r['app'] == 'jobapp-eu' and r['version'] == '1.2.3' and r['region'] == 'eu', r
    assert not any('hidden debug' in m for m in records), 'the app level (INFO) is not applied on the worker'


def test_embedded_cluster_jobs_log_as_the_app(tmp_path: Path) -> None:
    (tmp_path / 'app.py').write_text(APP)
    (tmp_path / 'jobs_mod.py').write_text(JOBS_MODULE)
    p = subprocess.run([sys.executable, 'app.py'], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr[-4000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out['app'] not in out['workers']  # the jobs ran in worker processes
    _check_job_lines(p.stderr, out['app'])  # the embedded cluster's workers write to the app's stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def test_external_cluster_jobs_log_as_the_app(tmp_path: Path) -> None:
    """``dask scheduler`` and ``dask worker`` processes of their own (as the README's walk-through deploys them),
    each writing to its own file."""
    (tmp_path / 'app.py').write_text(APP)
    (tmp_path / 'jobs_mod.py').write_text(JOBS_MODULE)
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'BUILD_'))}
    port = _free_port()
    address = f'tcp://127.0.0.1:{port}'
    files = {name: tmp_path / f'{name}-stderr.txt' for name in ('scheduler', 'worker')}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in (('scheduler', ['distributed.cli.dask_scheduler', '--host', '127.0.0.1', '--port',
                                          str(port), '--dashboard-address', '127.0.0.1:0']),
                           ('worker', ['distributed.cli.dask_worker', address, '--nthreads', '1', '--nworkers', '1',
                                       '--host', '127.0.0.1', '--no-dashboard'])):
            with open(files[name], 'w') as err:
                procs.append(subprocess.Popen([sys.executable, '-m', *args], cwd=tmp_path, env=env,
                                              stdout=subprocess.DEVNULL, stderr=err))
        deadline = time.monotonic() + TIMEOUT
        while 'Starting established connection' not in files['worker'].read_text():
            assert all(p.poll() is None for p in procs) and time.monotonic() < deadline, \
                files['scheduler'].read_text() + files['worker'].read_text()
            time.sleep(0.05)
        p = subprocess.run([sys.executable, 'app.py'], cwd=tmp_path, env=_env(SAF_DASK_SCHEDULER=address),
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr[-4000:]
        out = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(TIMEOUT)
    _check_job_lines(files['worker'].read_text(), out['app'])
    assert 'before init_framework' not in files['scheduler'].read_text()  # it unpickles the job's module too
