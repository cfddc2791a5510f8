"""A small service: typed configuration, logging, a plugin with a dependency, background jobs and progress.

Run it with ``make demo``. It processes a few batches in the background, reports progress, and exits by
itself (shutdown hooks then stop the plugins in reverse order). Try ``LOGGING_FORMAT=json make demo`` or
``DEMO_BATCHES=8 make demo``.
"""

from __future__ import annotations

import logging
import threading
import time

from scitrera_app_framework import (
    Plugin,
    Variables,
    get_background_exec,
    get_extension,
    get_logger,
    get_progress_tracker,
    init_framework,
    register_plugin,
)
from scitrera_app_framework.util import ext_parse_bool

EXT_STORE = 'demo-store'
EXT_PROCESSOR = 'demo-processor'


class InMemoryStore(Plugin[dict]):
    """Provides a dict that the processor writes results into."""

    def extension_point_name(self, v: Variables) -> str:
        return EXT_STORE

    def initialize(self, v: Variables, logger: logging.Logger) -> dict:
        logger.info('store ready')
        return {}

    def shutdown(self, v: Variables, logger: logging.Logger, value: dict) -> None:
        logger.info('store closed with %d results', len(value))


class Processor:
    def __init__(self, store: dict, delay: float, logger: logging.Logger) -> None:
        self.store, self.delay, self.logger = store, delay, logger

    def process(self, batch: int, size: int, done: threading.Event) -> None:
        tracker = get_progress_tracker()
        for i in range(size):
            time.sleep(self.delay)
            tracker.update(f'batch-{batch}', (i + 1) / size)
        self.store[f'batch-{batch}'] = sum(range(size))
        self.logger.info('batch %d done', batch)
        done.set()


class ProcessorPlugin(Plugin[Processor]):
    """Depends on the store: the registry initializes the store first."""

    eager = True

    def extension_point_name(self, v: Variables) -> str:
        return EXT_PROCESSOR

    def get_dependencies(self, v: Variables):
        return (EXT_STORE,)

    def initialize(self, v: Variables, logger: logging.Logger) -> Processor:
        delay = v.environ('DEMO_STEP_DELAY', default=0.01, type_fn=float)
        return Processor(self.get_extension(EXT_STORE, v), delay, logger)


def main() -> int:
    v = init_framework('demo-service', base_plugins=True, stateful=False, region='local')
    logger = get_logger(v)
    batches = v.environ('DEMO_BATCHES', default=4, type_fn=int)
    verbose = v.environ('DEMO_VERBOSE', default=False, type_fn=ext_parse_bool)
    register_plugin(InMemoryStore)
    register_plugin(ProcessorPlugin, init=True)

    tracker = get_progress_tracker()
    if verbose:
        tracker.add_callback(lambda t, task, p: logger.debug('progress %s=%.2f', task, p))
    processor: Processor = get_extension(EXT_PROCESSOR)
    events = [threading.Event() for _ in range(batches)]
    for b, ev in enumerate(events):
        get_background_exec().submit_job(processor.process, b, 10, ev)
    while not all(ev.wait(0.05) for ev in events):
        logger.info('overall progress %.0f%%', 100 * tracker.overall())
    store = get_extension(EXT_STORE)
    logger.info('all %d batches done: %s', batches, dict(sorted(store.items())))
    print(f'demo finished: {len(store)} batches')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
