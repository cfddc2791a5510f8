"""The oracle (the original 0.0.69 in a venv of its own) and the long-lived scenario workers.

``ensure_oracle()`` creates ``.venv-oracle-0.0.69/`` in the repository root with the base interpreter of the
running Python and installs ``scitrera-app-framework==0.0.69`` (which pulls ``botwinick-utils`` and ``vpd``) and
``python-dotenv`` (the original imports it lazily in ``add_env_file_source``) from the package index. The venv is
reused while its marker file names the same release and Python and the package still imports from it. If the
package index cannot be reached the caller skips loudly (``OracleUnavailable``); any other failure is an error.

``Worker`` runs ``runner.py`` under one interpreter and keeps it alive: one scenario per line in, one observation
per line out. A scenario that does not answer within the timeout kills the worker (it is restarted for the next
scenario) and is reported as ``{"timeout": ...}``, which never equals the other side's observation.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Optional

ORIGINAL_VERSION = '0.0.69'
REPO = Path(__file__).resolve().parents[2]
ORACLE_DIR = REPO / f'.venv-oracle-{ORIGINAL_VERSION}'
MARKER = ORACLE_DIR / '.oracle-installed'
RUNNER = Path(__file__).resolve().with_name('runner.py')
ORACLE_REQUIREMENTS = [f'scitrera-app-framework=={ORIGINAL_VERSION}', 'python-dotenv']
INDEX_UNREACHABLE = 'package index unreachable: cannot install the original scitrera-app-framework'


class OracleUnavailable(Exception):
    """The package index cannot be reached: the differential suite cannot have its oracle."""


class OracleError(RuntimeError):
    """The oracle could not be installed or does not import (the index WAS reachable)."""


def _bin(venv: Path, name: str) -> Path:
    return venv / ('Scripts' if os.name == 'nt' else 'bin') / name


def oracle_python() -> Path:
    return _bin(ORACLE_DIR, 'python')


def clean_env() -> dict[str, str]:
    """The environment for workers: nothing of this process's framework configuration leaks in."""
    drop = ('SAF_', 'LOGGING_', 'APP_', 'DT_', 'PYTHON', 'PYTEST', 'PIP_REQUIRE', 'HYPOTHESIS', 'VIRTUAL_ENV')
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env['PYTHONIOENCODING'] = 'utf-8'
    env['PYTHONHASHSEED'] = '0'  # the original iterates sets of names: keep each run reproducible
    return env


def _base_python() -> str:
    base = getattr(sys, '_base_executable', None) or sys.executable
    return base if os.path.exists(base) else sys.executable


def _probe(python: Path) -> Optional[dict[str, Any]]:
    """Which scitrera_app_framework ``python`` imports (run from an empty directory), or None."""
    with tempfile.TemporaryDirectory() as cwd:
        code = ('import json, sys, scitrera_app_framework as s\n'
                'from importlib.metadata import version\n'
                'print(json.dumps({"file": s.__file__, "version": version("scitrera-app-framework"),'
                ' "python": sys.version.split()[0]}))')
        r = subprocess.run([str(python), '-c', code], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                           timeout=120)
    if r.returncode != 0:
        return None
    try:
        return dict(json.loads(r.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return None


def index_reachable(python: str) -> tuple[bool, str]:
    r = subprocess.run([python, '-m', 'pip', 'index', 'versions', 'scitrera-app-framework'],
                       capture_output=True, text=True, timeout=300, env=clean_env())
    out = r.stdout + r.stderr
    return (r.returncode == 0 and ORIGINAL_VERSION in out), out[-2000:]


def ensure_oracle() -> dict[str, Any]:
    """Install (or reuse) the oracle venv; return what its interpreter imports."""
    base = _base_python()
    want = {'version': ORIGINAL_VERSION, 'python': '.'.join(map(str, sys.version_info[:2]))}
    if MARKER.exists() and oracle_python().exists():
        try:
            have = json.loads(MARKER.read_text())
        except ValueError:
            have = {}
        if {k: have.get(k) for k in want} == want:
            info = _probe(oracle_python())
            if info is not None and info['version'] == ORIGINAL_VERSION and str(ORACLE_DIR) in info['file']:
                return info
    shutil.rmtree(ORACLE_DIR, ignore_errors=True)
    r = subprocess.run([base, '-m', 'venv', str(ORACLE_DIR)], capture_output=True, text=True, env=clean_env())
    if r.returncode != 0:
        raise OracleError(f'cannot create {ORACLE_DIR} with {base}:\n{r.stdout}{r.stderr}')
    r = subprocess.run([str(oracle_python()), '-m', 'pip', 'install', '-q', *ORACLE_REQUIREMENTS],
                       capture_output=True, text=True, timeout=600, env=clean_env())
    if r.returncode != 0:
        reachable, detail = index_reachable(str(oracle_python()))
        shutil.rmtree(ORACLE_DIR, ignore_errors=True)
        if not reachable:
            raise OracleUnavailable(f'{INDEX_UNREACHABLE} ({detail.strip()[-500:]})')
        raise OracleError(f'pip install {" ".join(ORACLE_REQUIREMENTS)} failed although the index answers:\n'
                          f'{r.stdout[-3000:]}{r.stderr[-3000:]}')
    info = _probe(oracle_python())
    if info is None or info['version'] != ORIGINAL_VERSION or str(ORACLE_DIR) not in info['file']:
        raise OracleError(f'the oracle venv does not import the original {ORIGINAL_VERSION}: {info}')
    MARKER.write_text(json.dumps(want))
    return info


class Worker:
    """One long-lived runner process under ``python``; ``run`` sends a scenario and waits for its observation."""

    def __init__(self, python: str, label: str, timeout: float = 30.0) -> None:
        self.python = python
        self.label = label
        self.timeout = timeout
        self.proc: Optional[subprocess.Popen[str]] = None
        self.lines: queue.Queue[Optional[str]] = queue.Queue()
        self.hello: dict[str, Any] = {}
        self.restarts = 0
        self._seq = 0
        self._cwd = tempfile.mkdtemp(prefix=f'saf-dt-{label}-')
        self._stderr_path = os.path.join(self._cwd, 'stderr.log')

    def start(self) -> dict[str, Any]:
        stderr = open(self._stderr_path, 'a')
        self.proc = subprocess.Popen([self.python, '-u', str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, cwd=self._cwd, env=clean_env(), text=True, bufsize=1)
        stderr.close()
        self.lines = queue.Queue()
        out = self.proc.stdout
        assert out is not None

        def pump(q: queue.Queue[Optional[str]] = self.lines) -> None:
            for line in out:
                q.put(line)
            q.put(None)
        threading.Thread(target=pump, daemon=True, name=f'dt-{self.label}').start()
        first = self._read(120.0)
        if first is None or 'hello' not in first:
            raise RuntimeError(f'{self.label} worker did not start ({self.python}): {first}\n{self.stderr_tail()}')
        self.hello = first['hello']
        return self.hello

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return Path(self._stderr_path).read_text(errors='replace')[-n:]
        except OSError:
            return ''

    def _read(self, timeout: float) -> Optional[dict[str, Any]]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return {'timeout': timeout}
        if line is None:
            return None
        return dict(json.loads(line))

    def run(self, scenario: dict[str, Any], timeout: Optional[float] = None) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += self.proc is not None
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self._seq += 1
        seq = self._seq
        self.proc.stdin.write(json.dumps({'id': seq, 'scenario': scenario}) + '\n')
        self.proc.stdin.flush()
        msg = self._read(timeout or self.timeout)
        if msg is None:
            self.proc.wait()
            return {'crashed': self.proc.returncode, 'stderr': self.stderr_tail(1500)}
        if 'timeout' in msg:
            self.kill()
            return {'timeout': f'no answer within {timeout or self.timeout} s: the worker was killed and restarted'}
        if msg.get('id') != seq:
            raise RuntimeError(f'{self.label} worker answered {msg.get("id")} for {seq}')
        if 'runner_error' in msg:
            return {'runner_error': msg['runner_error']}
        return dict(msg['obs'])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self._cwd, ignore_errors=True)


class Pair:
    """The oracle and ours, side by side."""

    def __init__(self, oracle_python: str, ours_python: str, timeout: float = 30.0) -> None:
        self.original = Worker(oracle_python, 'original', timeout)
        self.ours = Worker(ours_python, 'ours', timeout)

    def start(self) -> None:
        self.original.start()
        self.ours.start()

    def run(self, scenario: dict[str, Any], timeout: Optional[float] = None) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.original.run(scenario, timeout), self.ours.run(scenario, timeout)

    def close(self) -> None:
        self.original.close()
        self.ours.close()
