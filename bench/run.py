"""Benchmark ``scitrera_app_framework`` against the original release and the stdlib floor.

Usage::

    python bench/run.py [--quick] [--only NAME[,NAME...]] [--no-original] [--rounds R] [--tenants N]

Runs every workload of ``bench/workloads.py`` in this interpreter (ours) and in a separate venv holding
the original release (``bench/.venv-orig``, created on first use), alternating between the two, ``R``
rounds each. Within a process each figure is the best of several repetitions; across rounds the median
is reported. Prints one table and writes ``bench/results/latest.json`` (the rows),
``bench/results/latest-raw.json`` (every raw result) and ``bench/results/latest.png`` (a chart).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import settings_bench  # the typed-settings rows and pydantic-settings' own venv (bench/settings_bench.py)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORKLOADS_PY = BENCH_DIR / 'workloads.py'
RESULTS_DIR = BENCH_DIR / 'results'
ORIG_VENV = BENCH_DIR / '.venv-orig'
ORIG_SPEC = 'scitrera-app-framework==0.0.60'
ORIG_STAMP = ORIG_VENV / '.bench-installed'
TENANT_CACHE_SIZE = 1000

#: environment variables that would change what a workload measures; never passed to workload processes
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'BENCH_', 'PYROSCOPE', 'STATEFUL_', 'RUN_', 'BUILD_', 'MULTITENANT')
_ENV_NAMES = ('APP_NAME', 'DATA_WORKING_PATH', 'REGION', 'PYTHONPATH', 'K', 'PYTHONSTARTUP')


@dataclass
class Spec:
    """One invocation of a workload: its arguments in full and quick mode, and extra environment."""

    key: str  # key of the raw results
    workload: str  # name in workloads.py
    full: list[str]
    quick: list[str]
    env: dict[str, str] = field(default_factory=dict)
    rounds: Optional[int] = None  # None: --rounds
    original: bool = True  # run in the original's venv too
    timeout: float = 600.0


_MICRO_FULL = ['--n', '1000', '--min-time', '0.05', '--repeat', '5']
_MICRO_QUICK = ['--n', '200', '--repeat', '1']

SPECS = [
    Spec('import', 'import', ['--n', '20'], ['--n', '3']),
    Spec('init', 'init', ['--n', '20'], ['--n', '3']),
    Spec('variables', 'variables', _MICRO_FULL, _MICRO_QUICK),
    Spec('environ', 'environ', _MICRO_FULL, _MICRO_QUICK),
    # ours only: lookups off the default placement's fast path (attribute access, sources, BOTTOM, a CLI layer)
    Spec('variables_layers', 'variables_layers', _MICRO_FULL, _MICRO_QUICK, original=False),
    # ours only: reads of 10 .. 1,000,000 distinct names (the key-name cache's bound; issue 19 item 14)
    Spec('variables_names', 'variables_names', ['--n', '200000', '--min-time', '0.05', '--repeat', '3'],
         ['--n', '200'], rounds=3, original=False),
    # ours only: a 20,000-key YAML file through FileSource against one yaml.load (issue 19 item 13)
    Spec('yaml_load', 'yaml_load', ['--n', '1000', '--min-time', '0.05', '--repeat', '3'], ['--n', '5'], rounds=3,
         original=False),
    Spec('get_extension', 'get_extension', _MICRO_FULL, _MICRO_QUICK),
    Spec('get_extensions', 'get_extensions', _MICRO_FULL, _MICRO_QUICK),
    Spec('settings', 'settings', _MICRO_FULL, _MICRO_QUICK, original=False),  # vs pydantic-settings, not the original
    Spec('log_json', 'log_json', ['--n', '20000', '--min-time', '0.2', '--repeat', '3'], ['--n', '500']),
    # ours only: JSON records with redaction on and N known secret values (issue 19 item 8)
    Spec('log_json_secrets_10', 'log_json_secrets', ['--n', '20000', '--min-time', '0.2', '--repeat', '3'],
         ['--n', '500'], env={'BENCH_KNOWN_SECRETS': '10'}, original=False),
    Spec('log_json_secrets_1000', 'log_json_secrets', ['--n', '20000', '--min-time', '0.2', '--repeat', '3'],
         ['--n', '500'], env={'BENCH_KNOWN_SECRETS': '1000'}, original=False),
    Spec('log_plain', 'log_plain', ['--n', '20000', '--min-time', '0.2', '--repeat', '3'], ['--n', '500']),
    Spec('submit', 'submit', ['--n', '10000', '--repeat', '5'], ['--n', '200']),
    # web.serve() against plain uvicorn.run (two servers alternating) and RequestContextMiddleware's cost
    Spec('web_serve', 'web_serve', ['--n', '4000', '--repeat', '5'], ['--n', '100'], original=False),
    Spec('web_middleware', 'web_middleware', _MICRO_FULL, _MICRO_QUICK, original=False),
    # ours only: the cost of the trace ids in log records (OpenTelemetry installed vs not)
    Spec('log_otel', 'log_otel', ['--n', '20000', '--min-time', '0.1', '--repeat', '15'], ['--n', '500'],
         original=False),
    # 100,000 tenants is slow on the original (a logger per tenant; logging's cache clearing is O(loggers)),
    # so one round only; the original ignores SAF_MULTITENANT_CACHE_SIZE, so it runs the unbounded case only.
    Spec('tenants', 'tenants', ['--n', '100000'], ['--n', '5000'], rounds=1, timeout=1800),
    Spec(
        'tenants_bounded',
        'tenants',
        ['--n', '100000'],
        ['--n', '5000'],
        env={'SAF_MULTITENANT_CACHE_SIZE': str(TENANT_CACHE_SIZE)},
        rounds=1,
        original=False,
    ),
]


# ----------------------------------------------------------------------------------------------------------------------
# the original's venv


def _venv_python(venv: Path) -> Path:
    return venv / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')


def _probe_version(python: Path) -> Optional[str]:
    code = "import importlib.metadata as m, scitrera_app_framework; print(m.version('scitrera-app-framework'))"
    try:
        out = subprocess.run(
            [str(python), '-c', code],
            cwd=tempfile.gettempdir(),
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_original_venv() -> Optional[Path]:
    """Create ``bench/.venv-orig`` holding the original release (once); returns its python or None."""
    python = _venv_python(ORIG_VENV)
    wanted = ORIG_SPEC.split('==')[1]
    if python.exists() and ORIG_STAMP.exists() and ORIG_STAMP.read_text().strip() == ORIG_SPEC:
        if _probe_version(python) == wanted:
            return python
    print(f'creating {ORIG_VENV.relative_to(ROOT)} with {ORIG_SPEC} ...', flush=True)
    base = getattr(sys, '_base_executable', None) or sys.executable
    try:
        subprocess.run([base, '-m', 'venv', '--clear', str(ORIG_VENV)], check=True)
        subprocess.run(
            [str(python), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', ORIG_SPEC],
            check=True,
            cwd=tempfile.gettempdir(),
        )
    except (OSError, subprocess.CalledProcessError) as e:
        print(f'WARNING: could not build the original venv ({e}); original columns stay empty', file=sys.stderr)
        return None
    version = _probe_version(python)
    if version != wanted:
        print(f'WARNING: original venv imports version {version!r}, expected {wanted}', file=sys.stderr)
        return None
    ORIG_STAMP.write_text(ORIG_SPEC + '\n')
    return python


# ----------------------------------------------------------------------------------------------------------------------
# running workloads


def _clean_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_ENV_PREFIXES) and k not in _ENV_NAMES and not k.startswith('PYTHON')
    }
    env.update(extra or {})
    return env


def run_one(python: str, spec: Spec, quick: bool, cwd: str) -> dict[str, Any]:
    """Run one workload process; returns its JSON result (or an error result)."""
    cmd = [python, str(WORKLOADS_PY), spec.workload, *(spec.quick if quick else spec.full)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=_clean_env(spec.env), capture_output=True, text=True, timeout=spec.timeout
        )
    except subprocess.TimeoutExpired:
        return {'workload': spec.workload, 'available': False, 'metrics': None, 'note': f'timeout {spec.timeout}s'}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or '').strip().splitlines()[-5:]
        return {
            'workload': spec.workload,
            'available': False,
            'metrics': None,
            'note': f'exit {proc.returncode}: ' + ' | '.join(tail),
        }
    result = json.loads(lines[-1])
    result['wall_s'] = round(time.perf_counter() - t0, 3)
    return result


def _median_metrics(results: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    ok = [r['metrics'] for r in results if r.get('available') and r.get('metrics')]
    if not ok:
        return None
    merged: dict[str, Any] = {}
    for key in ok[0]:
        values = [m.get(key) for m in ok]
        nums = [x for x in values if isinstance(x, (int, float)) and not isinstance(x, bool)]
        merged[key] = statistics.median(nums) if len(nums) == len(values) else values[-1]
    return merged


def _note(results: list[dict[str, Any]]) -> Optional[str]:
    notes = [r.get('note') for r in results if r.get('note')]
    return notes[-1] if notes else None


def run_all(args: argparse.Namespace, orig_python: Optional[Path]) -> dict[str, Any]:
    """Run the selected specs, alternating interpreters; returns raw results keyed by spec and side."""
    raw: dict[str, Any] = {}
    cwd = tempfile.mkdtemp(prefix='saf-bench-run-')
    for spec in SPECS:
        if args.only and spec.workload not in args.only and spec.key not in args.only:
            continue
        rounds = 1 if args.quick else (spec.rounds or args.rounds)
        sides = [('ours', sys.executable)]
        if orig_python is not None and spec.original:
            sides.append(('original', str(orig_python)))
        per_side: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sides}
        t0 = time.perf_counter()
        for r in range(rounds):
            order = sides if r % 2 == 0 else list(reversed(sides))
            for name, python in order:
                per_side[name].append(run_one(python, spec, args.quick, cwd))
        raw[spec.key] = {
            side: {'metrics': _median_metrics(res), 'note': _note(res), 'runs': res} for side, res in per_side.items()
        }
        print(f'  {spec.key:<16} {rounds} round(s), {time.perf_counter() - t0:6.1f}s', flush=True)
    return raw


# ----------------------------------------------------------------------------------------------------------------------
# rows


@dataclass
class Row:
    workload: str
    ours: Optional[float]
    original: Optional[float]
    floor: Optional[float]
    ratio: Optional[float]
    target: Optional[str]
    met: Optional[bool]
    unit: str = ''
    ratio_kind: str = ''
    note: Optional[str] = None


def _get(raw: dict[str, Any], key: str, side: str, metric: str) -> Optional[float]:
    m = raw.get(key, {}).get(side, {}).get('metrics')
    return None if not m else m.get(metric)


def _side_note(raw: dict[str, Any], key: str) -> Optional[str]:
    notes = []
    for side in ('ours', 'original'):
        n = raw.get(key, {}).get(side, {}).get('note')
        if n:
            notes.append(f'{side}: {n}')
    return '; '.join(notes) or None


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def _cmp(ratio: Optional[float], op: str, bound: float) -> Optional[bool]:
    if ratio is None:
        return None
    return ratio >= bound if op == '>=' else ratio <= bound


def build_rows(raw: dict[str, Any], tenants_n: int) -> list[Row]:
    rows: list[Row] = []

    def speed_row(
        label: str, key: str, metric: str, floor_metric: Optional[str], unit: str, bound: Optional[float]
    ) -> None:
        """Row where lower is better; ratio = original / ours (speed-up), target: ratio >= bound."""
        if key not in raw:
            return
        ours, orig = _get(raw, key, 'ours', metric), _get(raw, key, 'original', metric)
        ratio = _div(orig, ours)
        rows.append(
            Row(
                label,
                ours,
                orig,
                _get(raw, key, 'ours', floor_metric) if floor_metric else None,
                ratio,
                f'>= {bound:g}x faster than original' if bound else None,
                _cmp(ratio, '>=', bound) if bound else None,
                unit,
                'original/ours',
                _side_note(raw, key),
            )
        )

    def floor_row(label: str, key: str, metric: str, floor_metric: str, unit: str, bound: float, what: str) -> None:
        """Row compared to the stdlib floor; ratio = ours / floor, target: ratio <= bound."""
        if key not in raw:
            return
        ours, floor = _get(raw, key, 'ours', metric), _get(raw, key, 'ours', floor_metric)
        ratio = _div(ours, floor)
        orig = _get(raw, key, 'original', metric)
        orig_floor = _get(raw, key, 'original', floor_metric)
        note = _side_note(raw, key)
        if orig is not None and orig_floor:
            extra = f'original/its floor = {orig / orig_floor:.2f}x'
            note = f'{note}; {extra}' if note else extra
        target = f'<= {bound:g}x {what}'
        rows.append(Row(label, ours, orig, floor, ratio, target, _cmp(ratio, '<=', bound), unit, 'ours/floor', note))

    floor_row('import scitrera_app_framework', 'import', 'min_ms', 'floor_min_ms', 'ms', 1.5, '`python -c pass`')
    speed_row('init_framework + first log line', 'init', 'min_ms', 'floor_min_ms', 'ms', None)
    speed_row('Variables.get local key', 'variables', 'local_ns', 'floor_local_ns', 'ns/op', 10)
    speed_row('Variables.get environment key', 'variables', 'env_ns', 'floor_env_ns', 'ns/op', 2)
    speed_row('Variables.get registered default', 'variables', 'default_ns', 'floor_default_ns', 'ns/op', None)
    speed_row('environ(key, default, type_fn)', 'environ', 'environ_ns', 'floor_ns', 'ns/op', 5)
    for label, metric in (('v.key (attribute access)', 'attr_ns'),
                          ('Variables.get key in an extra source', 'source_ns'),
                          ('Variables.get local key, EnvPlacement.BOTTOM', 'bottom_local_ns'),
                          ('Variables.get default, EnvPlacement.BOTTOM', 'bottom_default_ns'),
                          ('environ(key, default, type_fn), EnvPlacement.BOTTOM', 'bottom_environ_ns'),
                          ('Variables.get local key under a CLI layer', 'cli_local_ns'),
                          ('Variables.find local key', 'find_ns')):
        speed_row(label, 'variables_layers', metric, 'floor_ns', 'ns/op', None)
    if 'yaml_load' in raw:
        floor = _get(raw, 'yaml_load', 'ours', 'floor_ms')
        for what, metric in (('load', 'load_ms'), ('reload()', 'reload_ms')):
            ours = _get(raw, 'yaml_load', 'ours', metric)
            ratio = _div(ours, floor)
            rows.append(Row(f'YAML file, 20,000 keys: {what}', ours, None, floor, ratio, '<= 1.3x one yaml.load',
                            _cmp(ratio, '<=', 1.3), 'ms', 'ours/floor',
                            'floor: one yaml.load of the text (pure-Python SafeLoader); before issue 19: 3.4x'))
    if 'variables_names' in raw:
        base = _get(raw, 'variables_names', 'ours', 'ns_10')
        for count in (1_000, 100_000, 1_000_000):
            ours = _get(raw, 'variables_names', 'ours', f'ns_{count}')
            if ours is None:
                continue
            ratio = _div(ours, base)
            floor = _get(raw, 'variables_names', 'ours', f'floor_ns_{count}')
            rows.append(Row(f'Variables.get cycling over {count:,} distinct names', ours, None, base, ratio,
                            '<= 10x the cost with 10 names', _cmp(ratio, '<=', 10), 'ns/op', 'ours/10 names',
                            f'floor: the same reads cycling over 10 names; past 65,536 names every read misses the '
                            f'key-name cache (one encode of the name); dict.get over the same {count:,} names: '
                            f'{floor} ns'))
    speed_row('get_extension (initialized)', 'get_extension', 'get_extension_ns', 'floor_ns', 'ns/op', 3)
    speed_row('get_extensions (5 plugins)', 'get_extensions', 'get_extensions_ns', 'floor_ns', 'ns/op', 1)
    rows.extend(settings_bench.settings_rows(raw, Row))

    for label, key, bound in (('JSON log records', 'log_json', 1.8), ('plain log records', 'log_plain', None)):
        if key not in raw:
            continue
        ours, orig = _get(raw, key, 'ours', 'records_per_s'), _get(raw, key, 'original', 'records_per_s')
        ratio = _div(ours, orig)
        note = _side_note(raw, key)
        orig_floor = _get(raw, key, 'original', 'floor_records_per_s')
        if orig_floor and orig:
            extra = f'do-nothing formatter on the original = {orig_floor / orig:.2f}x the original'
            note = f'{note}; {extra}' if note else extra
        std = _get(raw, key, 'ours', 'stdlib_floor_records_per_s')
        rows.append(
            Row(
                label,
                ours,
                orig,
                std,
                ratio,
                f'>= {bound:g}x original' if bound else None,
                _cmp(ratio, '>=', bound) if bound else None,
                'records/s',
                'ours/original',
                note,
            )
        )
        # cost per record relative to the stdlib floor: a stdlib logger + StreamHandler whose formatter returns a
        # constant string, with the stdlib's own record factory and log* switches
        cost = _div(std, ours)
        orig_std = _get(raw, key, 'original', 'stdlib_floor_records_per_s')
        floor_note = 'floor: stdlib logger, constant-string formatter, stdlib record factory and switches'
        if orig and orig_std:
            floor_note += f'; the original costs {orig_std / orig:.2f}x its floor'
        std_bound = 1.25 if key == 'log_json' else None
        rows.append(
            Row(
                f'{label} vs stdlib floor',
                ours,
                orig,
                std,
                cost,
                f'<= {std_bound:g}x stdlib floor cost' if std_bound else None,
                _cmp(cost, '<=', std_bound) if std_bound else None,
                'records/s',
                'floor/ours (cost)',
                floor_note,
            )
        )

    for count in (10, 1000):
        key = f'log_json_secrets_{count}'
        if key not in raw:
            continue
        ours, std = _get(raw, key, 'ours', 'records_per_s'), _get(raw, key, 'ours', 'stdlib_floor_records_per_s')
        cost = _div(std, ours)
        rows.append(Row(f'JSON log records, {count:,} known secrets, vs stdlib floor', ours, None, std, cost,
                        '<= 1.25x stdlib floor cost', _cmp(cost, '<=', 1.25), 'records/s', 'floor/ours (cost)',
                        'SAF_LOG_REDACT on; every message searched for the known secret values'))

    floor_row('background submit', 'submit', 'submit_ns', 'floor_ns', 'ns/op', 1.3, 'raw ThreadPoolExecutor.submit')

    if 'web_serve' in raw:
        ours, plain = _get(raw, 'web_serve', 'ours', 'serve_per_s'), _get(raw, 'web_serve', 'ours', 'uvicorn_per_s')
        ratio = _div(ours, plain)
        rows.append(Row('requests/s: web.serve() vs uvicorn.run', ours, None, plain, ratio,
                        '>= 0.95x plain uvicorn.run', _cmp(ratio, '>=', 0.95), 'req/s', 'serve/uvicorn.run',
                        _side_note(raw, 'web_serve') or 'minimal ASGI app, access log off, 8 keep-alive clients'))
    if 'web_middleware' in raw:
        cost = _get(raw, 'web_middleware', 'ours', 'cost_ns')
        bare = _get(raw, 'web_middleware', 'ours', 'bare_ns')
        rows.append(Row('RequestContextMiddleware: added per request', cost, None, bare, None, None, None, 'ns/op',
                        '', 'floor: the bare ASGI app called directly (no server)'))
    if 'log_otel' in raw:  # cost per record = not-installed rate / rate (1.00 = no cost)
        off = _get(raw, 'log_otel', 'ours', 'not_installed_records_per_s')
        for label, metric, bound in (('JSON log record, OpenTelemetry installed, no span', 'no_span_records_per_s',
                                      1.05),
                                     ('JSON log record, OpenTelemetry span active', 'span_records_per_s', None)):
            ours = _get(raw, 'log_otel', 'ours', metric)
            cost = _div(off, ours)
            rows.append(Row(label, ours, None, off, cost, f'<= {bound:g}x not installed' if bound else None,
                            _cmp(cost, '<=', bound) if bound else None, 'records/s', 'not installed/ours (cost)',
                            'floor: the same formatter as built without opentelemetry-api'))

    if 'tenants' in raw:
        speed_row(f'{tenants_n:,} tenants: time', 'tenants', 'seconds', None, 's', None)
        speed_row(f'{tenants_n:,} tenants: memory, no bound', 'tenants', 'traced_mib', None, 'MiB', None)
    if 'tenants_bounded' in raw:
        ours = _get(raw, 'tenants_bounded', 'ours', 'traced_mib')
        at_cp = _get(raw, 'tenants_bounded', 'ours', 'traced_mib_at_checkpoint')
        bounded = (raw['tenants_bounded'].get('ours', {}).get('metrics') or {}).get('bounded')
        orig = _get(raw, 'tenants', 'original', 'traced_mib')
        note = _side_note(raw, 'tenants_bounded')
        detail = 'original ignores the bound (its unbounded run shown)'
        if ours is not None:
            first = f'ours: {at_cp} MiB after the first {TENANT_CACHE_SIZE} tenants'
            detail = f'{first}, {ours} MiB after {tenants_n:,}; {detail}'
        rows.append(
            Row(
                f'{tenants_n:,} tenants: memory, cache={TENANT_CACHE_SIZE}',
                ours,
                orig,
                None,
                _div(orig, ours),
                'bounded by cache size',
                bounded,
                'MiB',
                'original/ours',
                f'{note}; {detail}' if note else detail,
            )
        )
    return rows


# ----------------------------------------------------------------------------------------------------------------------
# output


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return '-'
    if abs(x) >= 1000:
        return f'{x:,.0f}'
    if abs(x) >= 100:
        return f'{x:.1f}'
    if abs(x) >= 1:
        return f'{x:.2f}'
    return f'{x:.3f}'


def format_table(rows: list[Row]) -> str:
    header = ['workload', 'unit', 'ours', 'original', 'floor', 'ratio', 'target', 'met']
    body = []
    for r in rows:
        ratio = '-' if r.ratio is None else f'{r.ratio:.2f}x ({r.ratio_kind})'
        met = '-' if r.met is None else ('yes' if r.met else 'NO')
        body.append([r.workload, r.unit, _fmt(r.ours), _fmt(r.original), _fmt(r.floor), ratio, r.target or '-', met])
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    right = {2, 3, 4}

    def line(cells: list[str]) -> str:
        return '  '.join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(header), '  '.join('-' * w for w in widths)] + [line(b) for b in body]
    notes = [f'  * {r.workload}: {r.note}' for r in rows if r.note]
    if notes:
        out += ['', 'notes:', *notes]
    return '\n'.join(out)


def write_chart(rows: list[Row], path: Path) -> Optional[str]:
    """Bar chart: left, ours and floor relative to the original (time, lower is better); right, target margin."""
    try:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError as e:
        return f'matplotlib unavailable: {e}'

    def as_cost(r: Row, x: Optional[float]) -> Optional[float]:
        if x is None:
            return None
        return 1.0 / x if r.unit == 'records/s' and x else x

    labels = [r.workload for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 0.55 * len(rows) + 2.2), sharey=True)
    ys = list(range(len(rows)))
    h = 0.38
    seen: set[str] = set()

    def once(name: str) -> Optional[str]:
        if name in seen:
            return None
        seen.add(name)
        return name

    for i, r in enumerate(rows):
        ref = as_cost(r, r.original)
        ours, floor = as_cost(r, r.ours), as_cost(r, r.floor)
        if ref:
            ax1.barh(i - h / 2, 1.0, h, color='#bbbbbb', label=once('original'))
            if ours is not None:
                ax1.barh(i + h / 2, ours / ref, h, color='#3b7dd8', label=once('ours'))
            if floor is not None:
                ax1.plot([floor / ref], [i + h / 2], 'k|', markersize=14, label=once('stdlib floor'))
        elif ours is not None and floor:
            ax1.barh(i + h / 2, ours / floor, h, color='#3b7dd8', label=once('ours'))
            ax1.plot([1.0], [i + h / 2], 'k|', markersize=14, label=once('stdlib floor'))
    ax1.set_xscale('log')
    ax1.axvline(1.0, color='#888888', lw=0.8)
    ax1.set_title('cost relative to the original (or to the floor when no original); lower is better')
    ax1.set_yticks(ys)
    ax1.set_yticklabels(labels)
    ax1.invert_yaxis()
    handles, names = ax1.get_legend_handles_labels()
    if handles:
        ax1.legend(loc='lower right', fontsize=8)

    for i, r in enumerate(rows):
        if r.target is None or r.met is None:
            continue
        bound = None
        for tok in r.target.split():
            if tok.endswith('x'):
                try:
                    bound = float(tok[:-1])
                except ValueError:
                    pass
                break
        if bound is not None and r.ratio:
            margin = r.ratio / bound if r.target.startswith('>=') else bound / r.ratio
            text = f'  {r.ratio:.2f}x ({r.ratio_kind}), target {r.target}'
        else:
            margin = 1.0 if r.met else 0.5
            text = f"  {'met' if r.met else 'not met'}: {r.target}"
        ax2.barh(i, margin, 0.6, color='#2e9e4f' if r.met else '#d0453a')
        ax2.text(margin, i, text, va='center', fontsize=7)
    ax2.axvline(1.0, color='black', lw=1)
    ax2.set_xscale('log')
    lo, hi = ax2.get_xlim()
    ax2.set_xlim(min(lo, 0.5), max(hi, 2.0) * 4)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f'{x:g}'))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _pos: ''))
    ax2.set_title('achieved / target (>= 1 means met)')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or '').split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='tiny sizes, one round (a smoke run)')
    parser.add_argument('--only', default='', help='comma-separated workload names (e.g. variables,tenants)')
    parser.add_argument('--no-original', action='store_true', help='skip the original release')
    parser.add_argument('--rounds', type=int, default=5, help='process rounds per interpreter (median is kept)')
    parser.add_argument(
        '--tenants', type=int, default=None, help='number of tenants (default 100000; 5000 with --quick)'
    )
    args = parser.parse_args(argv)
    args.only = {x.strip() for x in args.only.split(',') if x.strip()}
    known = {s.workload for s in SPECS} | {s.key for s in SPECS}
    unknown = args.only - known
    if unknown:
        parser.error(f'unknown workload(s) {sorted(unknown)}; choose from {sorted(known)}')

    if args.tenants is None:
        args.tenants = 5000 if args.quick else 100_000
    for spec in SPECS:
        if spec.workload == 'tenants':
            spec.full = spec.quick = ['--n', str(args.tenants)]

    orig_python = None if args.no_original else ensure_original_venv()
    if not args.only or 'settings' in args.only:
        site = settings_bench.ensure_pydantic_site()
        for spec in SPECS:
            if spec.workload == 'settings' and site:
                spec.env[settings_bench.SITE_ENV] = site
    ours_version = _probe_version(Path(sys.executable))
    print(f'ours:     {sys.executable} (scitrera-app-framework {ours_version})')
    print(f'original: {orig_python or "skipped"}' + (f' ({ORIG_SPEC})' if orig_python else ''))
    mode = 'quick: tiny sizes, 1 round' if args.quick else f'{args.rounds} rounds (tenants: 1)'
    print(f'running workloads ({mode}; best of in-process repeats, median across rounds) ...', flush=True)

    t0 = time.perf_counter()
    raw = run_all(args, orig_python)
    rows = build_rows(raw, args.tenants)

    print()
    print(format_table(rows))
    print(f'\ntotal {time.perf_counter() - t0:.0f}s')

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / 'latest.json').write_text(json.dumps([asdict(r) for r in rows], indent=2) + '\n')
    meta = {
        'ours': {'python': sys.executable, 'version': ours_version},
        'original': {'python': str(orig_python) if orig_python else None, 'spec': ORIG_SPEC if orig_python else None},
        'quick': args.quick,
        'rounds': 1 if args.quick else args.rounds,
        'aggregation': 'best of in-process repeats, median across process rounds',
        'time': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        'results': raw,
    }
    (RESULTS_DIR / 'latest-raw.json').write_text(json.dumps(meta, indent=2) + '\n')
    err = write_chart(rows, RESULTS_DIR / 'latest.png')
    written = ['bench/results/latest.json', 'bench/results/latest-raw.json']
    if err:
        print(f'chart skipped: {err}', file=sys.stderr)
    else:
        written.append('bench/results/latest.png')
    print('wrote ' + ', '.join(written))
    return 0


if __name__ == '__main__':
    sys.exit(main())
