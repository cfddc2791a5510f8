"""What to run for an installed app: :class:`LaunchPlan` builds the command line and the child's environment.

The app runs as ``<env python> -s -c <bootstrap> <entry> [args...]``. The bootstrap drops the current directory
from ``sys.path`` (so files in the caller's cwd cannot shadow the app), processes ``.pth`` files of the app and
layer directories (``PYTHONPATH`` alone would skip them), then runs ``module`` like ``python -m module`` or calls
``module:function`` like a console script (its return value is the exit code).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

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
sys.argv = [os.environ.get('SLAUNCH_APP') or _entry] + sys.argv[2:]
_module, _sep, _attr = _entry.partition(':')
if _sep:
    import importlib
    _obj = importlib.import_module(_module)
    for _part in _attr.split('.'):
        _obj = getattr(_obj, _part)
    sys.exit(_obj())
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

    @property
    def site_dirs(self) -> Tuple[Path, ...]:
        """Return the directories put on ``sys.path`` ahead of the environment: the app's, then the layer's."""
        return (self.app_dir,) + ((self.layer_dir,) if self.layer_dir is not None else ())

    def command(self, args: Sequence[str] = ()) -> List[str]:
        """Return the command line: the environment's python running the entry with default args + ``args``."""
        return [str(self.python), '-s', '-c', BOOTSTRAP, self.entry, *self.args, *args]

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
        return env
