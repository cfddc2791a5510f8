"""Smoke test for the benchmark workloads: each runs once, tiny, in this interpreter, and prints a result.

This is not a benchmark (no timing is asserted); it only keeps ``bench/workloads.py`` working against the
package. It never touches the network or the original release's venv.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKLOADS_PY = Path(__file__).resolve().parents[2] / 'bench' / 'workloads.py'

EXPECTED_METRICS = {
    'import': {'min_ms', 'median_ms', 'floor_min_ms', 'floor_median_ms', 'runs'},
    'init': {'min_ms', 'median_ms', 'floor_min_ms', 'floor_median_ms', 'runs'},
    'variables': {'local_ns', 'env_ns', 'default_ns', 'floor_local_ns', 'floor_env_ns', 'floor_default_ns'},
    'variables_names': {'ns_10', 'ns_1000', 'ratio_1000'},
    'yaml_load': {'keys', 'load_ms', 'reload_ms', 'floor_ms', 'load_ratio'},
    'environ': {'environ_ns', 'floor_ns'},
    'variables_layers': {'attr_ns', 'source_ns', 'bottom_local_ns', 'bottom_default_ns', 'bottom_environ_ns',
                         'cli_local_ns', 'find_ns', 'floor_ns'},
    'get_extension': {'get_extension_ns', 'floor_ns'},
    'get_extensions': {'get_extensions_ns', 'floor_ns', 'variant'},
    'log_json': {'records_per_s', 'floor_records_per_s', 'records', 'fields'},
    'log_plain': {'records_per_s', 'floor_records_per_s', 'records'},
    'log_json_secrets': {'records_per_s', 'stdlib_floor_records_per_s', 'known_secrets', 'search_ns_100_chars'},
    'submit': {'submit_ns', 'floor_ns', 'jobs'},
    'log_otel': {'not_installed_records_per_s', 'no_span_records_per_s', 'span_records_per_s', 'records'},
    'tenants': {'tenants', 'seconds', 'us_per_tenant', 'traced_mib', 'traced_peak_mib', 'bounded'},
    'web_serve': {'serve_per_s', 'uvicorn_per_s', 'requests'},
    'web_middleware': {'bare_ns', 'middleware_ns', 'cost_ns'},
}

#: process workloads spawn 2 * (n + 1) interpreters, keep them small
SIZES = {'import': 2, 'init': 2}


def _multi_tenant_importable() -> bool:
    try:
        importlib.import_module('scitrera_app_framework.ext_plugins.multi_tenant')
    except ImportError:
        return False
    return True


def _env() -> dict[str, str]:
    drop = ('SAF_', 'LOGGING_', 'BENCH_', 'PYROSCOPE', 'STATEFUL_', 'RUN_', 'BUILD_', 'MULTITENANT')
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in ('APP_NAME', 'PYTHONPATH')}
    return env


@pytest.mark.parametrize('name', sorted(EXPECTED_METRICS))
def test_workload_prints_result(name: str, tmp_path: Path) -> None:
    n = SIZES.get(name, 10)
    proc = subprocess.run(
        [sys.executable, str(WORKLOADS_PY), name, '--n', str(n)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert lines, f'no output; stderr: {proc.stderr[-3000:]}'
    result = json.loads(lines[-1])
    assert {'workload', 'available', 'package', 'metrics', 'note', 'python'} <= set(result)
    assert result['workload'] == name

    if name == 'tenants' and not _multi_tenant_importable():
        if not result['available']:
            assert str(result['note']).startswith('unavailable'), result['note']
            return

    if name == 'web_serve' and importlib.util.find_spec('uvicorn') is None:  # the no-extras leg
        assert not result['available'] and str(result['note']).startswith('unavailable'), result['note']
        return
    if name == 'log_otel' and importlib.util.find_spec('opentelemetry') is None:  # the no-extras leg
        assert not result['available'] and 'opentelemetry-sdk is not installed' in str(result['note'])
        return

    assert result['available'], f"{result['note']}\n{proc.stderr[-3000:]}"
    assert result['note'] is None
    metrics = result['metrics']
    missing = EXPECTED_METRICS[name] - set(metrics)
    assert not missing, f'missing metrics {missing} in {metrics}'
    for key, value in metrics.items():
        if key.endswith(('_ns', '_ms', '_per_s')):
            assert isinstance(value, (int, float)) and value > 0, (key, value)
    if name == 'log_json':
        assert {'message', 'k', 'region'} <= set(metrics['fields']), metrics['fields']
