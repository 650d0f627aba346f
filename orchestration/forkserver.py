"""The run's forkserver: dbt's commands and the report workers are forked from it.

A build starts dbt two or three times and the report workers once; each would otherwise begin by
importing its libraries (dbt-core about 2 s, matplotlib and the report about 2 s). A forkserver
(multiprocessing's own start method) imports them once, on the otherwise idle core while ingestion
runs, and forks a process for each command with them imported. forkserver, not fork: the caller is
a threaded Dagster process, whose locks a fork would copy; the server is single-threaded.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import ForkServerContext

from analysis.report_workers import PRELOAD as REPORT_PRELOAD

PRELOAD = ["dbt.cli.main", *REPORT_PRELOAD]


def forkserver() -> ForkServerContext:
    """The multiprocessing context of the process's one forkserver, which preloads PRELOAD when it
    starts (the first process started from it starts it)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_forkserver() -> None:
    """Start the forkserver now; returns once it has imported PRELOAD (call it from a thread of its
    own to go on meanwhile)."""
    process = forkserver().Process(target=os.getpid, name="iwh-forkserver-start")
    process.start()
    process.join()
