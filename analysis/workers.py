"""Worker processes for the independent parts of an analysis step, on the cores it would leave idle."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor


class _InThisProcess(Executor):
    """Runs each call as it is submitted: the executor of a single core."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        done: Future = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as error:
            done.set_exception(error)
        return done


@contextlib.contextmanager
def forked_workers() -> Iterator[Executor]:
    """A worker process per usable core, forked so that each starts with the libraries imported and
    the parent's data in memory; on a single core the calls run in this process, as fast. A worker
    freezes the objects it inherits, so its garbage collections skip the parent's heap (large in
    the Dagster process), whose traversal would also copy every page it touches. Arguments and
    results are pickled: submit small ones."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if cores < 2:
        yield _InThisProcess()
        return
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("fork"), initializer=gc.freeze) as pool:
        yield pool
