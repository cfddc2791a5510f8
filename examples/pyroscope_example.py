"""Profile an app with Pyroscope: ``python examples/pyroscope_example.py``.

Points the agent at ``PYROSCOPE_SERVER`` (default: http://127.0.0.1:4040, a local address where nothing needs to
listen: failed uploads are ignored by the agent), burns about one second of CPU and exits; the shutdown hooks stop
the agent and flush the last profile. Needs ``pip install 'scitrera-app-framework[pyroscope]'``; without it the
app still runs and logs one warning.

Try it against a real server::

    docker run -p 4040:4040 grafana/pyroscope
    PYROSCOPE_SERVER=http://localhost:4040 PYROSCOPE_TAG_TEAM=core python examples/pyroscope_example.py
"""

from __future__ import annotations

import os
import time

from scitrera_app_framework import get_extension, get_logger, init_framework
from scitrera_app_framework.ext_plugins.pyroscope_plugin import EXT_PYROSCOPE


def _busy(seconds: float) -> int:
    """Burn CPU for ``seconds``; returns a checksum so the work is not optimized away."""
    total = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        total += sum(i * i for i in range(2000)) % 7
    return total


def main() -> int:
    """Run the example; returns the process exit code."""
    os.environ.setdefault('PYROSCOPE_SERVER', 'http://127.0.0.1:4040')
    v = init_framework('pyroscope-example', pyroscope=True, stateful=False, region='local')
    logger = get_logger(v)
    config = get_extension(EXT_PYROSCOPE, v)  # PyroscopeConfig, or None without pyroscope-io
    if config is not None:
        logger.info('profiling %s -> %s with tags %s', config.application_name, config.server_address, config.tags)
    checksum = _busy(1.0)
    logger.info('work done (checksum %d)', checksum)
    print('pyroscope example done', flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
