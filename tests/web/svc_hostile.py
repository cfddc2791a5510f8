"""The service of ``test_web_hostile_2.py``: streams, server-sent events, a WebSocket and a saturated executor.

Run as a script it calls ``web.serve()``; WEB_BIND says where: ``tcp`` (127.0.0.1:WEB_PORT), ``uds`` (the unix socket
WEB_UDS) or ``fd`` (the listening socket inherited as WEB_FD). WEB_WS: uvicorn's ``ws`` option (``auto``,
``websockets``, ``wsproto``). Lines on stdout mark what happened (the tests wait for them and count them).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse

from scitrera_app_framework import get_background_exec, register_shutdown_function
from scitrera_app_framework.web import RequestContextMiddleware, lifespan

RELEASE = threading.Event()  # the saturating jobs wait on it


def say(s: str) -> None:
    sys.stdout.write(s + '\n')
    sys.stdout.flush()


def hook() -> None:
    say(f'HOOK RAN pid={os.getpid()}')


def setup(v: object) -> None:
    register_shutdown_function(hook)
    say(f'SETUP pid={os.getpid()}')


@asynccontextmanager
async def inner(app: Any) -> AsyncIterator[None]:
    say('LIFESPAN START')
    yield
    say('LIFESPAN SHUTDOWN')


app = FastAPI(lifespan=lifespan(app_name='hostile', setup=setup, inner=inner, base_plugins=True))


@app.get('/fast')
async def fast() -> JSONResponse:
    return JSONResponse({'ok': True})


@app.get('/stream')
async def stream(n: int = 10, dt: float = 0.2) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        say('STREAM STARTED')
        for i in range(n):
            yield f'chunk {i}\n'.encode()
            await asyncio.sleep(dt)
        say('STREAM DONE')

    return StreamingResponse(chunks(), media_type='text/plain')


@app.get('/sse')
async def sse() -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        say('SSE STARTED')
        i = 0
        try:
            while True:
                yield f'data: {i}\n\n'.encode()
                i += 1
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            say('SSE CANCELLED')
            raise

    return StreamingResponse(events(), media_type='text/event-stream')


@app.websocket('/ws')
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    say('WS OPEN')
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f'echo {text}')
    except WebSocketDisconnect as e:
        say(f'WS CLOSED code={e.code}')


@app.get('/saturate')
def saturate(n: int = 50) -> JSONResponse:
    ex = get_background_exec()
    queued = sum(bool(ex.submit_job(RELEASE.wait, 60)) for _ in range(ex.max_workers + n))
    say(f'SATURATED workers={ex.max_workers} queued={queued} waiting={ex.queue_length()}')
    return JSONResponse({'workers': ex.max_workers, 'queued': queued, 'waiting': ex.queue_length()})


@app.get('/release')
def release() -> JSONResponse:
    RELEASE.set()
    return JSONResponse({'released': True})


app.add_middleware(RequestContextMiddleware)


if __name__ == '__main__':
    from scitrera_app_framework.web import serve

    bind = os.environ.get('WEB_BIND', 'tcp')
    opts: dict[str, Any] = {'ws': os.environ.get('WEB_WS', 'auto')}
    if bind == 'uds':
        opts['uds'] = os.environ['WEB_UDS']
    elif bind == 'fd':
        opts['fd'] = int(os.environ['WEB_FD'])
    else:
        opts.update(host='127.0.0.1', port=int(os.environ['WEB_PORT']))
    t0 = time.monotonic()
    serve(app, **opts)
    say(f'AFTER SERVE in {time.monotonic() - t0:.1f}s')
