"""The standard-library internals behind ``core._stdlib``: if an interpreter changes one, these fail loudly."""

from __future__ import annotations

import asyncio
import sys
import threading

from scitrera_app_framework.core import _stdlib


def test_threading_has_the_pre_join_exit_hook() -> None:
    assert callable(getattr(threading, '_register_atexit', None)), (
        'threading._register_atexit is gone: the shutdown phases would run after non-daemon threads are joined')


def test_running_loop_is_seen_without_importing_asyncio_anew() -> None:
    assert _stdlib.running_loop() is None

    async def probe() -> object:
        return _stdlib.running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(probe()) is loop
    finally:
        loop.close()


def test_main_task_of_run_until_complete_is_found_and_detached() -> None:
    """asyncio.run stops the loop through a done-callback on the main task; the shutdown removes it so the
    async hooks can still run after the main task was cancelled."""
    result: dict[str, object] = {}

    async def other() -> None:
        await asyncio.sleep(0.01)

    async def main() -> str:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        helper = loop.create_task(other())
        result['found'] = _stdlib.find_main_task(loop) is me
        result['detached'] = _stdlib.detach_loop_stop(me)
        await helper
        return 'done'

    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(main())
        # with its stop callback detached, run_until_complete would never return: stop once the task is done
        task.add_done_callback(lambda _t: loop.stop())
        assert loop.run_until_complete(task) == 'done'
    finally:
        loop.close()
    assert result == {'found': True, 'detached': True}, (
        f'asyncio internals changed on {sys.version}: asyncio.base_events._run_until_complete_cb')


def test_detach_is_false_for_a_task_not_run_by_run_until_complete() -> None:
    async def main() -> bool:
        t = asyncio.get_running_loop().create_task(asyncio.sleep(0))
        ok = _stdlib.detach_loop_stop(t)
        await t
        return ok

    assert asyncio.run(main()) is False
