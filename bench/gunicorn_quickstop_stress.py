"""Stress tool (not a test): quick-stop gunicorn workers right after they start, many times, and catch the hangs.

Each run starts ``gunicorn -c python:scitrera_app_framework.web.gunicorn_conf -k KIND tests/web/svc_app:app`` the
way ``tests/web/test_servers.py`` does (same environment: ``SAF_GUNICORN_INIT=svc_app:setup``, drain, timeout),
waits for the worker's ``SETUP pid=`` line (and, with ``--ready``, for ``/readyz`` to answer 200 as the test does),
waits DELAY seconds and sends SIGINT to the master (gunicorn's quick stop: the master sends SIGQUIT to the
workers). A run "hangs" when the master has not exited ``--hang-after`` seconds later (gunicorn would SIGKILL the
worker at ``graceful_timeout``); the tool then dumps every process of the run with ``py-spy dump`` (``pip install
py-spy``; skipped when it is missing) into ``--out`` and kills the process group. A run also fails when a worker
that printed ``SETUP`` did not print ``HOOK RAN`` (its shutdown phases did not run).

Runs go ``--parallel`` at a time (put the machine under load with more than it has cores)::

    python bench/gunicorn_quickstop_stress.py --runs 200 --parallel 6 --delays 0,0.01,0.05,0.2 --ready

Prints one line per failed run and a summary per delay (runs, hangs, missing phases); exit status 1 when any run
failed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / 'tests' / 'web'
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_', 'WEB_')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """Every process under ``pid`` (from /proc)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for tid in os.listdir(f'/proc/{p}/task'):
                try:
                    kids = Path(f'/proc/{p}/task/{tid}/children').read_text().split()
                except OSError:
                    continue
                for k in kids:
                    found.append(int(k))
                    todo.append(int(k))
        except OSError:
            continue
    return found


def ready(port: int, keep_alive: bool) -> bool:
    """GET /readyz on a new connection. ``keep_alive``: as the test's client (http.client, HTTP/1.1 keep-alive, the
    client closes after reading), so the worker keeps the connection and wakes up again when the client closes it;
    else with ``Connection: close`` (the server closes it)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    try:
        conn.request('GET', '/readyz', headers={} if keep_alive else {'Connection': 'close'})
        r = conn.getresponse()
        r.read()
        return bool(r.status == 200)
    except OSError:
        return False
    finally:
        conn.close()


def one_run(n: int, kind: str, delay: float, args: argparse.Namespace) -> tuple[float, str]:
    """One start + quick stop; returns (delay, '' or what went wrong)."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix='qs-'))
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    env.update({'PYTHONPATH': os.pathsep.join([str(WEB), str(ROOT)]), 'PYTHONUNBUFFERED': '1', 'HOME': str(home),
                'WEB_PORT': str(port), 'SAF_SHUTDOWN_DRAIN_SECONDS': '0.8', 'SAF_SHUTDOWN_TIMEOUT': '30',
                'SAF_SETUP_STATEFUL': 'false', 'PYTHONWARNINGS': 'ignore::DeprecationWarning', 'WEB_KIND': 'wsgi',
                'WEB_INIT': 'none', 'SAF_APP_NAME': 'websvc', 'SAF_GUNICORN_INIT': 'svc_app:setup',
                'SAF_BASE_PLUGINS': 'true'})
    argv = [sys.executable, '-m', 'gunicorn', '-c', 'python:scitrera_app_framework.web.gunicorn_conf',
            '--graceful-timeout', '30', '--log-level', 'info', '-b', f'127.0.0.1:{port}', '-k', kind]
    argv += ['--threads', '4'] if kind == 'gthread' else []
    argv += ['svc_app:app']
    err_path = home / 'stderr.txt'
    with open(err_path, 'w') as err:
        proc = subprocess.Popen(argv, cwd=home, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    setup = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip('\n'))
            if 'SETUP pid=' in line:
                setup.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    problem = ''
    try:
        if not setup.wait(120):
            return delay, f'run {n}: no SETUP line in 120 s'
        if args.ready:
            deadline = time.monotonic() + 60
            while not ready(port, not args.close):
                if time.monotonic() > deadline:
                    return delay, f'run {n}: never ready'
                time.sleep(0.05)
        if delay > 0:
            time.sleep(delay)
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(args.hang_after)
        except subprocess.TimeoutExpired:
            problem = f'run {n} (delay {delay}): master still running {args.hang_after} s after SIGINT'
            dump = Path(args.out) / f'hang-{n}.txt'
            dump.parent.mkdir(parents=True, exist_ok=True)
            with open(dump, 'w') as f:
                f.write(f'{problem}\nstdout:\n' + '\n'.join(lines) + '\n')
                spy = shutil.which('py-spy') or str(Path(sys.executable).with_name('py-spy'))
                for pid in [proc.pid, *children(proc.pid)]:
                    f.write(f'\n===== pid {pid}: {Path(f"/proc/{pid}/cmdline").read_bytes()!r}\n')
                    f.flush()
                    if os.path.exists(spy):
                        subprocess.run([spy, 'dump', '--pid', str(pid), '--locals'], stdout=f,
                                       stderr=subprocess.STDOUT, timeout=60)
                        subprocess.run([spy, 'dump', '--pid', str(pid), '--native'], stdout=f,
                                       stderr=subprocess.STDOUT, timeout=60)
                    for tid in sorted(os.listdir(f'/proc/{pid}/task')):
                        status = Path(f'/proc/{pid}/task/{tid}/status').read_text()
                        sigs = [ln for ln in status.splitlines() if ln.startswith(('State', 'Sig', 'ShdPnd'))]
                        f.write(f'task {tid}: {"; ".join(sigs)}\n')
                f.write('\nstderr:\n' + err_path.read_text(errors='replace'))
            problem += f' (dump: {dump})'
            return delay, problem
        took = time.monotonic() - t0
        reader.join(10)
        out = '\n'.join(lines)
        pids = [ln.split('SETUP pid=')[1] for ln in lines if 'SETUP pid=' in ln]
        missing = [p for p in pids if f'HOOK RAN pid={p}' not in out]
        if missing:
            problem = (f'run {n} (delay {delay}): exit {proc.returncode} after {took:.1f} s; no HOOK RAN for '
                       f'{missing}\n{out}\n{err_path.read_text(errors="replace")[-3000:]}')
        return delay, problem
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--runs', type=int, default=100)
    p.add_argument('--parallel', type=int, default=4)
    p.add_argument('--kind', default='gthread', help='gunicorn worker class (-k): gthread, sync')
    p.add_argument('--delays', default='0,0.01,0.05,0.2', help='seconds after the SETUP line, comma-separated')
    p.add_argument('--ready', action='store_true', help='also wait for /readyz 200 before the delay (as the test)')
    p.add_argument('--close', action='store_true', help='--ready polls with "Connection: close" (not keep-alive)')
    p.add_argument('--hang-after', type=float, default=12.0, help='seconds after SIGINT before a run is "hung"')
    p.add_argument('--out', default='/tmp/quickstop-dumps', help='where the py-spy dumps of hung runs go')
    args = p.parse_args(argv)
    delays = [float(d) for d in args.delays.split(',')]
    stats: dict[float, list[int]] = {d: [0, 0] for d in delays}
    with ThreadPoolExecutor(args.parallel) as pool:
        futs = [pool.submit(one_run, n, args.kind, delays[n % len(delays)], args) for n in range(args.runs)]
        for fut in futs:
            delay, problem = fut.result()
            stats[delay][0] += 1
            if problem:
                stats[delay][1] += 1
                print(problem, flush=True)
    failed = 0
    for d, (runs, bad) in stats.items():
        print(f'delay {d:g}s: {runs} runs, {bad} failed')
        failed += bad
    print(f'total: {args.runs} runs, {failed} failed ({100.0 * failed / max(1, args.runs):.1f}%)')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
