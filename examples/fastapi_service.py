"""A FastAPI service on uvicorn that keeps the framework's lifecycle promises (``pip install fastapi uvicorn``).

- ``web.lifespan`` initializes the framework at start-up (``setup`` registers the app's plugins), puts the
  ``Variables`` on ``app.state.v`` and shuts everything down at the end;
- ``RequestContextMiddleware`` gives every request an id (``X-Request-ID``, echoed) that is on every log line of the
  request, uvicorn's access line included, and answers ``/livez`` ``/readyz`` ``/healthz``;
- ``POST /reports`` hands a job to the background executor; ``GET /greeting`` reads a plugin's value through a
  dependency;
- ``web.serve`` runs uvicorn with the framework owning SIGTERM/SIGINT: ``/readyz`` turns 503 at once, the service
  keeps serving for ``SAF_SHUTDOWN_DRAIN_SECONDS``, then stops accepting, finishes the requests in flight, and the
  job, plugins and hooks finish before the last line ``stopped (exit 0) in X s``::

    HTTP_PORT=8080 SAF_SHUTDOWN_DRAIN_SECONDS=5 python examples/fastapi_service.py
    curl -i localhost:8080/greeting; curl -X POST localhost:8080/reports; curl localhost:8080/readyz
"""

from __future__ import annotations

import logging
import os
import time
from typing import Annotated

from fastapi import Depends, FastAPI

from scitrera_app_framework import Plugin, Variables, get_background_exec, register_plugin, register_shutdown_function
from scitrera_app_framework.web import RequestContextMiddleware, app_logger, app_variables, extension, lifespan, serve


class GreetingPlugin(Plugin[str]):
    """Provides the greeting (from ``GREETING``, default ``hello``) at the extension point ``greeting``."""

    def extension_point_name(self, v: Variables) -> str:
        return 'greeting'

    def initialize(self, v: Variables, logger: logging.Logger) -> str:
        return str(v.environ('GREETING', default='hello'))


def setup(v: Variables) -> None:
    """Called by the lifespan once the framework is initialized: register the app's plugins and hooks."""
    register_plugin(GreetingPlugin, v, init=True)
    register_shutdown_function(print, 'fastapi-service: shutdown hook ran', flush=True)


app = FastAPI(title='fastapi-service', lifespan=lifespan(setup=setup, base_plugins=True))
app.add_middleware(RequestContextMiddleware)

AppVars = Annotated[Variables, Depends(app_variables)]
AppLog = Annotated[logging.Logger, Depends(app_logger)]
Greeting = Annotated[str, Depends(extension('greeting'))]


@app.get('/greeting')
def greeting(text: Greeting, log: AppLog) -> dict[str, str]:
    log.info('greeting asked')  # carries request_id
    return {'greeting': text}


def build_report(n: int, logger: logging.Logger) -> None:
    time.sleep(0.5)
    logger.info('report %d built', n)
    print(f'fastapi-service: report {n} built', flush=True)


@app.post('/reports', status_code=202)
def reports(v: AppVars, log: AppLog) -> dict[str, bool]:
    queued = get_background_exec(v).submit_job(build_report, 1, log)
    return {'queued': queued}


if __name__ == '__main__':
    serve(app, host=os.environ.get('HTTP_HOST', '127.0.0.1'), port=int(os.environ.get('HTTP_PORT', '8080')))
