"""What to run for an installed app: :class:`LaunchPlan` builds the command line and the child's environment.

The app runs as ``<env python> -s -c <bootstrap> <entry> [args...]``. The bootstrap drops the current directory
from ``sys.path`` (so files in the caller's cwd cannot shadow the app), processes ``.pth`` files of the app, lib
and layer directories (``PYTHONPATH`` alone would skip them), then runs the entry point:

- ``module`` (``entry_kind='module'``): like ``python -m module``; ``module:function`` is called like a console
  script (its return value is the exit code);
- a script (``entry_kind='script'``, the central repository's ``entrypoint``, e.g. ``main.py``): like
  ``python main.py`` from the app's directory;
- ``entry_kind='python'`` (an empty ``entrypoint``): the environment's python itself with the arguments.

An entry point that does not exist (a misspelt module, function or script) is one line on stderr,
``slaunch: error: <where it is written>: <problem>``, and exit status 2, without a traceback (unless
``SLAUNCH_DEBUG`` is set). With ``SLAUNCH_ENTRY_CHECK=1`` the bootstrap only resolves the entry point (importing
the module of a ``module:function`` entry) and exits 0: a launcher checks a new or changed entry point that way
before it records it (:meth:`LaunchPlan.check_env`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .paths import scripts_dir

__all__ = ['LaunchPlan', 'BOOTSTRAP']

BOOTSTRAP = '''\
import os, site, sys
if sys.path and sys.path[0] == '':
    del sys.path[0]
for _d in os.environ.get('SLAUNCH_SITE_DIRS', '').split(os.pathsep):
    if _d:
        site.addsitedir(_d)
_entry = sys.argv[1]
_where = os.environ.pop('SLAUNCH_ENTRY_LOCATION', '') or 'entry point %r' % _entry
_check = os.environ.pop('SLAUNCH_ENTRY_CHECK', '') == '1'
def _bad(problem):
    if os.environ.get('SLAUNCH_DEBUG'):
        raise
    sys.stderr.write('slaunch: error: %s: %s; check the entry point\\n' % (_where, problem))
    sys.exit(2)
if _entry.startswith('@'):
    _path = _entry[1:]
    sys.argv = [_path] + sys.argv[2:]
    try:
        open(_path, 'rb').close()
    except OSError as _e:
        _bad('cannot open the script %s (%s)' % (_path, _e.strerror or _e))
    if _check:
        sys.exit(0)
    sys.path.insert(0, os.path.dirname(_path))
    import runpy
    runpy.run_path(_path, run_name='__main__')
    sys.exit(0)
sys.argv = [os.environ.get('SLAUNCH_APP') or _entry] + sys.argv[2:]
_module, _sep, _attr = _entry.partition(':')
import importlib, importlib.util
try:
    _spec = importlib.util.find_spec(_module)
    if _spec is None:
        raise ModuleNotFoundError('No module named %r' % _module, name=_module)
    if not _sep and _spec.submodule_search_locations is not None \\
            and importlib.util.find_spec(_module + '.__main__') is None:
        raise ModuleNotFoundError('%r is a package without a __main__ module' % _module, name=_module)
except ModuleNotFoundError as _e:
    if _e.name and (_module == _e.name or _module.startswith(_e.name + '.')):
        _bad(str(_e))
    raise
if _sep:
    _obj = importlib.import_module(_module)
    for _part in _attr.split('.'):
        try:
            _obj = getattr(_obj, _part)
        except AttributeError:
            _bad('module %r has no attribute %r' % (_module, _attr))
    if _check:
        sys.exit(0 if callable(_obj) else _bad('%r is not callable' % _entry))
    sys.exit(_obj())
if _check:
    sys.exit(0)
import runpy
runpy.run_module(_module, run_name='__main__', alter_sys=True)
'''

# Variables of the launcher's own Python setup that must not leak into the app's interpreter.
_DROPPED_VARS = ('PYTHONHOME', 'PYTHONPATH', '__PYVENV_LAUNCHER__', 'PYTHONEXECUTABLE', 'VIRTUAL_ENV', 'CONDA_PREFIX')


@dataclass(frozen=True)
class LaunchPlan:
    """An installed app version ready to run: interpreter, directories, entry point, default args and env."""

    app: str
    version: str
    root: Path
    environment: str
    kind: str
    env_dir: Path
    python: Path
    app_dir: Path
    layer_dir: Optional[Path]
    entry: str
    args: Tuple[str, ...] = ()
    env: Dict[str, str] = field(default_factory=dict)
    #: ``'module'`` (``module`` / ``module:function``), ``'script'`` (a file of the app) or ``'python'``
    entry_kind: str = 'module'
    #: directories between the app's and the layer's on ``sys.path`` (the app's own packages, its libs)
    extra_dirs: Tuple[Path, ...] = ()
    #: where the entry point is written (``manifest.yaml:12: apps.myapp.entry``), for the bootstrap's errors
    entry_location: Optional[str] = None
    #: the "in use" marks held for this launch (see :mod:`._inuse`); handed to the app's process by run_plan
    hold: Any = field(default=None, compare=False, repr=False)

    @property
    def site_dirs(self) -> Tuple[Path, ...]:
        """Return the directories put on ``sys.path`` ahead of the environment: the app's, the extra ones (its
        own packages and libs), then the layer's."""
        return (self.app_dir,) + self.extra_dirs + ((self.layer_dir,) if self.layer_dir is not None else ())

    def command(self, args: Sequence[str] = ()) -> List[str]:
        """Return the command line: the environment's python running the entry with default args + ``args``."""
        if self.entry_kind == 'python':
            return [str(self.python), '-s', *self.args, *args]
        entry = '@' + str(self.app_dir.joinpath(*self.entry.split('/'))) if self.entry_kind == 'script' \
            else self.entry
        return [str(self.python), '-s', '-c', BOOTSTRAP, entry, *self.args, *args]

    def check_env(self, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """The environment of an entry point check: :meth:`environ` with ``SLAUNCH_ENTRY_CHECK=1`` (the bootstrap
        resolves the entry point and exits 0, or prints its one-line error and exits 2)."""
        env = self.environ(base=base)
        env['SLAUNCH_ENTRY_CHECK'] = '1'
        return env

    def release(self) -> None:
        """Drop the "in use" marks this plan holds (run_plan does it when the app exits)."""
        if self.hold is not None:
            self.hold.release()

    def environ(self, extra: Optional[Mapping[str, str]] = None,
                base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """Return the child's environment: ``base`` (default ``os.environ``) without the launcher's Python
        variables, then the manifest's ``env``, then ``extra``; plus ``PYTHONPATH`` (app dir, layer dir, then
        any ``PYTHONPATH`` given by the manifest / ``extra``), ``PATH`` with the script dirs first,
        ``VIRTUAL_ENV`` and ``SLAUNCH_ROOT`` / ``SLAUNCH_APP`` / ``SLAUNCH_APP_VERSION`` / ``SLAUNCH_SITE_DIRS``.
        """
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _DROPPED_VARS}
        env.update(self.env)
        if extra:
            env.update(extra)
        sites = [str(p) for p in self.site_dirs]
        own_path = env.get('PYTHONPATH')
        env['PYTHONPATH'] = os.pathsep.join(sites + ([own_path] if own_path else []))
        env['SLAUNCH_SITE_DIRS'] = os.pathsep.join(sites)
        bins = [str(scripts_dir(p)) for p in self.site_dirs] + [str(self.python.parent)]
        env['PATH'] = os.pathsep.join(bins + ([env['PATH']] if env.get('PATH') else []))
        env['VIRTUAL_ENV' if self.kind == 'venv' else 'CONDA_PREFIX'] = str(self.env_dir)
        env['SLAUNCH_ROOT'] = str(self.root)
        env['SLAUNCH_APP'] = self.app
        env['SLAUNCH_APP_VERSION'] = self.version
        if self.entry_location:
            env['SLAUNCH_ENTRY_LOCATION'] = self.entry_location
        return env
