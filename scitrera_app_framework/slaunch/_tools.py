"""The external tools slaunch runs: pip, venv, conda / mamba / micromamba, and interpreters (for their version).

Every run reports progress (:mod:`._progress`) and a failure is an :class:`InstallError` whose message names
what was being done and the tool's last error line (the full output is in ``InstallError.output``).
Tests replace :func:`run_pip` to watch or break pip.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ._log import logger
from ._progress import Progress
from .errors import InstallError

CONDA_ENV_VAR = 'SLAUNCH_CONDA_EXE'


def version_tuple(text: object) -> Tuple[int, ...]:
    """Return the first three integers of ``text`` (``'3.11.7'`` -> ``(3, 11, 7)``)."""
    return tuple(int(p) for p in re.findall(r'\d+', str(text))[:3])


def run_tool(cmd: List[str], what: str, tool: str, progress: bool = True, cwd: Optional[Path] = None) -> str:
    """Run ``cmd`` (in ``cwd``; stdin closed, output collected, shown on the progress bar) and return its output.

    Raises :class:`InstallError` when it cannot be started or exits non-zero.
    """
    import subprocess

    env = dict(os.environ)
    env.setdefault('PIP_DISABLE_PIP_VERSION_CHECK', '1')
    logger().debug('running %s', cmd)
    lines: List[str] = []
    bar = Progress(what, mode=None if progress else 'off')
    with bar:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=None if cwd is None else str(cwd))
        except OSError as exc:
            bar.finish(ok=False)
            raise InstallError(f'{what} failed: cannot run {cmd[0]}: {exc.strerror or exc}') from exc
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                line = raw.decode('utf-8', 'replace')
                lines.append(line)
                if line.strip():
                    bar.note(line)
        code = proc.wait()
        if code != 0:
            bar.finish(ok=False)
    output = ''.join(lines)
    if code != 0:
        logger().debug('%s output:\n%s', tool, output)
        raise InstallError(f'{what} failed: {_summary(output)} ({tool} exit code {code})', output=output)
    return output


def run_pip(cmd: List[str], what: str, cwd: Optional[Path] = None) -> str:
    """Run a pip command (in ``cwd``); tests replace this function to watch or break pip."""
    return run_tool(cmd, what, 'pip', cwd=cwd)


def _summary(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('ERROR:')]
    text = errors[-1][len('ERROR:'):].strip() if errors else (lines[-1] if lines else 'no output')
    return text if len(text) <= 300 else text[:297] + '...'


@functools.lru_cache(maxsize=1)
def launcher_pip_usable() -> bool:
    """True if the launcher's interpreter has a pip that supports ``--python`` (pip >= 22.3)."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec('pip') is None:
        return False
    try:
        version = version_tuple(importlib.metadata.version('pip'))
    except importlib.metadata.PackageNotFoundError:
        return False
    return version[:2] >= (22, 3)


def pip_install(python: Path, target: Path, packages: Sequence[str], pip_args: Sequence[str], *, no_deps: bool,
                what: str, requirement_files: Sequence[Path] = (), cwd: Optional[Path] = None) -> None:
    """``pip install --target`` ``packages`` (and ``-r`` each of ``requirement_files``) for ``python``, run in
    ``cwd`` (relative paths in requirement files are relative to it)."""
    if launcher_pip_usable():
        cmd = [sys.executable, '-m', 'pip', '--python', str(python)]
    else:
        cmd = [str(python), '-m', 'pip']
    cmd += ['install', '--target', str(target), '--no-input', '--disable-pip-version-check',
            '--no-warn-script-location', '--progress-bar', 'off']
    if no_deps:
        cmd.append('--no-deps')
    for req_file in requirement_files:
        cmd += ['-r', str(req_file)]
    cmd += [*pip_args, *packages]
    if cwd is None:
        run_pip(cmd, what)
    else:
        run_pip(cmd, what, cwd=cwd)


def interpreter_version(interpreter: Optional[str], env_name: str) -> Tuple[int, ...]:
    """Return the version of ``interpreter`` (the launcher's own when None); raises :class:`InstallError`."""
    if interpreter is None:
        return tuple(sys.version_info[:3])
    out = run_tool([interpreter, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
                   f'querying the interpreter of environment {env_name!r}', 'python', progress=False)
    version = version_tuple(out.strip().splitlines()[-1] if out.strip() else '')
    if len(version) < 2:
        raise InstallError(f'could not read the version of {interpreter} (environment {env_name!r}); got {out!r}')
    return version


def create_venv(env_dir: Path, env_name: str, interpreter: Optional[str]) -> None:
    """Create a venv at ``env_dir`` (without pip when the launcher's pip can install into it)."""
    with_pip = not launcher_pip_usable()
    if interpreter is None:
        import subprocess
        import venv

        with Progress(f'creating the venv of environment {env_name!r}'):
            try:
                venv.EnvBuilder(with_pip=with_pip, symlinks=os.name != 'nt').create(str(env_dir))
            except (OSError, subprocess.CalledProcessError) as exc:
                raise InstallError(f'creating the venv of environment {env_name!r} in {env_dir} failed: {exc}') \
                    from exc
        return
    cmd = [interpreter, '-m', 'venv'] + ([] if with_pip else ['--without-pip']) + [str(env_dir)]
    run_tool(cmd, f'creating the venv of environment {env_name!r} with {interpreter}', 'venv')


def find_conda() -> Optional[str]:
    """Return the conda-compatible executable to use: ``$SLAUNCH_CONDA_EXE``, else ``mamba``, ``conda`` or
    ``micromamba`` on PATH; None when there is none."""
    explicit = os.environ.get(CONDA_ENV_VAR, '').strip()
    if explicit:
        return explicit
    for name in ('mamba', 'conda', 'micromamba'):
        found = shutil.which(name)
        if found:
            return found
    return None


def conda_exe(env_name: str) -> str:
    """Return :func:`find_conda` or raise :class:`InstallError` saying how to get one."""
    found = find_conda()
    if found is None:
        raise InstallError(f"environment {env_name!r} needs conda but neither conda, mamba nor micromamba is on "
                           f'PATH (or named by {CONDA_ENV_VAR}); install Miniforge '
                           '(https://github.com/conda-forge/miniforge) or use kind: venv')
    return found


def _is_micromamba(exe: str) -> bool:
    return 'micromamba' in os.path.basename(exe).lower()


def conda_python_spec(spec: Optional[str]) -> str:
    """Return the conda package spec for a ``python`` requirement (``'3.11'`` -> ``'python=3.11'``)."""
    if not spec:
        return 'python'
    text = spec.replace(' ', '')
    if re.fullmatch(r'\d+(\.\d+)*', text):
        return f'python={text}'
    if re.fullmatch(r'==\d+(\.\d+)*\.\*', text):
        return f'python={text[2:-2]}'
    return f'python{text}'


def create_conda(env_dir: Path, env_name: str, python: Optional[str], packages: Sequence[str],
                 channels: Sequence[str], env_file: Optional[Path] = None) -> None:
    """Create a conda environment at ``env_dir``: from ``env_file`` (an ``environment.yml``) when given, else
    ``python`` plus ``packages``; then install ``packages`` into it when both are given."""
    exe = conda_exe(env_name)
    chan: List[str] = []
    for channel in channels:
        chan += ['--channel', channel]
    if env_file is not None:
        if _is_micromamba(exe):
            cmd = [exe, 'create', '--yes', '--quiet', '--prefix', str(env_dir), '--file', str(env_file)]
        else:
            cmd = [exe, 'env', 'create', '--quiet', '--prefix', str(env_dir), '--file', str(env_file)]
        run_tool(cmd, f'creating the conda environment {env_name!r} from {env_file}', 'conda')
        if packages:
            run_tool([exe, 'install', '--yes', '--quiet', '--prefix', str(env_dir), *chan, *packages],
                     f'installing conda packages into environment {env_name!r}', 'conda')
        return
    cmd = [exe, 'create', '--yes', '--quiet', '--prefix', str(env_dir), *chan, conda_python_spec(python),
           *packages]
    run_tool(cmd, f'creating the conda environment {env_name!r}', 'conda')
