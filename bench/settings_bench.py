"""The typed-settings rows of the benchmark: pydantic-settings' own venv, and the rows built from the ``settings``
workload (see ``bench/README.md``, "Typed settings vs pydantic-settings").

pydantic-settings is installed only here, in ``bench/.venv-pydantic`` (gitignored), never in the package's
environment: the ``settings`` workload runs in our interpreter and puts that venv's ``site-packages`` first on
``sys.path`` (``BENCH_PYDANTIC_SITE``), so ours, pydantic-settings and the floor are timed in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

BENCH_DIR = Path(__file__).resolve().parent
PYDANTIC_VENV = BENCH_DIR / '.venv-pydantic'
PYDANTIC_SPEC = 'pydantic-settings>=2,<3'
PYDANTIC_STAMP = PYDANTIC_VENV / '.bench-installed'
#: the environment variable that tells the workload where pydantic-settings is
SITE_ENV = 'BENCH_PYDANTIC_SITE'


def _python(venv: Path) -> Path:
    return venv / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')


def _site_of(python: Path) -> Optional[str]:
    """The ``site-packages`` of ``python`` when it imports pydantic_settings, else None."""
    code = ("import sysconfig, pydantic_settings; "
            "print(sysconfig.get_paths()['purelib'])")
    try:
        out = subprocess.run([str(python), '-c', code], capture_output=True, text=True, timeout=120,
                             cwd=tempfile.gettempdir())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def ensure_pydantic_site() -> Optional[str]:
    """Create ``bench/.venv-pydantic`` with pydantic-settings (once), from the running interpreter's base Python
    (so its compiled ``pydantic-core`` fits this interpreter); return its ``site-packages`` or None (the rows then
    say why)."""
    python = _python(PYDANTIC_VENV)
    tag = f'{PYDANTIC_SPEC} python{sys.version_info[0]}.{sys.version_info[1]}'
    if python.exists() and PYDANTIC_STAMP.exists() and PYDANTIC_STAMP.read_text().strip() == tag:
        site = _site_of(python)
        if site:
            return site
    print(f'creating {PYDANTIC_VENV.relative_to(BENCH_DIR.parent)} with {PYDANTIC_SPEC} ...', flush=True)
    base = getattr(sys, '_base_executable', None) or sys.executable
    try:
        subprocess.run([base, '-m', 'venv', '--clear', str(PYDANTIC_VENV)], check=True)
        subprocess.run([str(python), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', PYDANTIC_SPEC],
                       check=True, cwd=tempfile.gettempdir())
    except (OSError, subprocess.CalledProcessError) as e:
        print(f'WARNING: could not build the pydantic-settings venv ({e}); its columns stay empty', file=sys.stderr)
        return None
    site = _site_of(python)
    if site:
        PYDANTIC_STAMP.write_text(tag + '\n')
    return site


def _metric(raw: dict[str, Any], name: str) -> Optional[float]:
    m = raw.get('settings', {}).get('ours', {}).get('metrics') or {}
    val = m.get(name)
    return val if isinstance(val, (int, float)) and not isinstance(val, bool) else None


def settings_rows(raw: dict[str, Any], row: Callable[..., Any]) -> list[Any]:
    """The two rows of the ``settings`` workload, built with run.py's ``Row`` class (passed as ``row``):

    - attribute read on a bound settings object: ours, floor (a plain object), ratio ours / pydantic-settings,
      target <= 1.1x (as fast, within noise);
    - load of 20 fields: ours, floor (the 20 ``v.environ`` calls alone), ratio pydantic-settings / ours.
    """
    if 'settings' not in raw:
        return []
    m = raw['settings'].get('ours', {}).get('metrics') or {}
    why = m.get('pydantic_note') or raw['settings'].get('ours', {}).get('note')
    version = m.get('pydantic_settings')
    who = f'pydantic-settings {version}' if version else 'pydantic-settings'
    attr, p_attr, floor_attr = _metric(raw, 'attr_ns'), _metric(raw, 'pydantic_attr_ns'), _metric(raw, 'floor_attr_ns')
    load, p_load, floor_load = _metric(raw, 'load_us'), _metric(raw, 'pydantic_load_us'), _metric(raw, 'environ20_us')
    attr_ratio = round(attr / p_attr, 3) if attr and p_attr else None
    load_ratio = round(p_load / load, 3) if load and p_load else None
    attr_note = (f'{who}: {p_attr} ns; floor: a plain object' if p_attr else f'no {who} figure: {why}')
    load_note = (f'{who}: {p_load} us; floor: the 20 v.environ() calls alone' if p_load
                 else f'no {who} figure: {why}')
    return [
        row('settings attribute read', attr, None, floor_attr, attr_ratio, '<= 1.1x pydantic-settings',
            None if attr_ratio is None else attr_ratio <= 1.1, 'ns/op', 'ours/pydantic-settings', attr_note),
        row('settings load, 20 fields', load, None, floor_load, load_ratio, '>= 1x pydantic-settings',
            None if load_ratio is None else load_ratio >= 1, 'us', 'pydantic-settings/ours', load_note),
    ]


__all__ = ['ensure_pydantic_site', 'settings_rows', 'SITE_ENV', 'PYDANTIC_VENV', 'PYDANTIC_SPEC']
