"""The service the web tests run under real servers (configured by environment variables).

WEB_INIT: ``import`` (init_framework at import), ``lifespan`` (inside web.lifespan), ``main`` (in the asyncio main).
WEB_RUN (when run as a script): ``serve`` (web.serve) or ``server`` (``await uvicorn.Server(config).serve()`` in an
asyncio main). WEB_PORT: the port. Lines on stdout mark what happened (the tests wait for them and count them).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from scitrera_app_framework import get_background_exec, init_framework, register_shutdown_function
from scitrera_app_framework.web import RequestContextMiddleware, lifespan, wsgi_probes

INIT = os.environ.get('WEB_INIT', 'import')


def say(s: str) -> None:
    sys.stdout.write(s + '\n')
    sys.stdout.flush()


def job(tag: str) -> None:
    say(f'JOB START {tag}')
    time.sleep(1.0)
    say(f'JOB DONE {tag} pid={os.getpid()}')


def hook() -> None:
    say(f'HOOK RAN pid={os.getpid()}')


def setup(v: object) -> None:
    register_shutdown_function(hook)
    say(f'SETUP pid={os.getpid()}')


if INIT == 'import':
    setup(init_framework('websvc', base_plugins=True))


def make_asgi() -> object:
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    @asynccontextmanager
    async def inner(app: object):  # type: ignore[no-untyped-def]
        say('LIFESPAN START')
        yield
        say('LIFESPAN SHUTDOWN')

    opts = {'setup': setup, 'base_plugins': True} if INIT == 'lifespan' else {}
    app = FastAPI(lifespan=lifespan(app_name='websvc', inner=inner, **opts))

    @app.get('/slow')
    async def slow(s: float = 1.5) -> JSONResponse:
        say('SLOW STARTED')
        await asyncio.sleep(s)
        queued = get_background_exec().submit_job(job, 'slow')  # handed over at the end of the request
        say(f'SLOW DONE queued={queued}')
        return JSONResponse({'ok': queued}, status_code=200 if queued else 500)

    @app.get('/fast')
    async def fast() -> JSONResponse:
        queued = get_background_exec().submit_job(lambda: None)  # False once the executor stopped: a 500
        return JSONResponse({'ok': queued}, status_code=200 if queued else 500)

    app.add_middleware(RequestContextMiddleware)
    return app


def make_wsgi() -> object:
    def app(environ: dict, start_response):  # type: ignore[no-untyped-def,type-arg]
        path = environ.get('PATH_INFO', '/')
        if path == '/slow':
            say('SLOW STARTED')
            time.sleep(1.5)
            queued = get_background_exec().submit_job(job, 'slow')
            say(f'SLOW DONE queued={queued}')
            body = b'{"ok":%s}' % (b'true' if queued else b'false')
        elif path == '/fast':
            body = b'{"ok":%s}' % (b'true' if get_background_exec().submit_job(lambda: None) else b'false')
        else:
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'not found']
        start_response('200 OK' if b'true' in body else '500 Internal Server Error',
                       [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
        return [body]

    return wsgi_probes(app)


if os.environ.get('WEB_KIND', 'asgi') == 'wsgi':
    app = make_wsgi()
else:
    app = make_asgi()


async def _server_main() -> None:
    import uvicorn

    if INIT == 'main':
        setup(init_framework('websvc', base_plugins=True))
    config = uvicorn.Config(app, host='127.0.0.1', port=int(os.environ['WEB_PORT']), log_config=None)
    await uvicorn.Server(config).serve()
    await asyncio.sleep(0.05)
    say('AFTER SERVE')


if __name__ == '__main__':
    if os.environ.get('WEB_RUN') == 'server':
        asyncio.run(_server_main())
    else:
        from scitrera_app_framework.web import serve
        serve(app, host='127.0.0.1', port=int(os.environ['WEB_PORT']))
        say('AFTER SERVE')
