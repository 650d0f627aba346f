"""Worker processes that write the reports on every core: the analysis report's figures and the
unit pages.

Drawing is most of the analysis report's time (matplotlib's layout, SVG and PNG of some 30
figures), rendering hundreds of templates most of the unit pages'; each runs on one core.
Started at the beginning of a build, the workers import matplotlib and the report's module while
dbt and the models run, and then share the reports' work. forkserver,
not fork: the caller is a threaded Dagster process, whose locks a fork would copy. The caller's
forkserver (orchestration.forkserver) serves other work too; its preload includes PRELOAD.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext

# What every worker has imported before its first task.
PRELOAD = ["analysis.report"]


@contextlib.contextmanager
def report_workers(
    context: ForkServerContext, workers: int | None = None
) -> Iterator[concurrent.futures.Executor | None]:
    """A pool of ``workers`` processes (default: one per core available), started now; None on one
    core, where the reports are written in the calling process."""
    count = workers or len(os.sched_getaffinity(0))
    if count < 2:
        yield None
        return
    with concurrent.futures.ProcessPoolExecutor(count, mp_context=context) as pool:
        # The pool starts its processes on demand: ask each for something now, from a thread of its
        # own, since starting the first waits until the forkserver has imported PRELOAD (2 s).
        starting = threading.Thread(
            target=lambda: [pool.submit(os.getpid) for _ in range(count)], name="iwh-start-report-workers"
        )
        starting.start()
        try:
            yield pool
        finally:
            starting.join()
