"""Import the later build steps' libraries during the dbt step.

Great Expectations, statsmodels, scipy and matplotlib take about 4 s to import. The steps that use
them import them when they run, so loading the definitions (`iwh run`, the UI, a sensor tick) does
not pay for them. During a build, dbt runs in a process of its own while this process mostly waits
for its output (or, when every dbt node is reused, only records events): importing them then, on
the otherwise idle core, takes them off the way to the published warehouse.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence

BUILD_STEP_MODULES = ("expectations.run", "analysis.models", "analysis.contribution", "analysis.report")
# Modules that register global hooks on import which the calling thread goes on using while the
# background imports run. Great Expectations imports SQLAlchemy's ORM, whose import registers an
# inspection hook for every object before the module that hook needs has finished loading; Dagster's
# event storage then failed in the calling thread with "partially initialized module
# 'sqlalchemy.orm.exc'". Imported here first, in the calling thread (0.15 s).
IMPORTED_BEFOREHAND = ("sqlalchemy.orm",)


def import_in_background(modules: Sequence[str] = BUILD_STEP_MODULES) -> None:
    for module in IMPORTED_BEFOREHAND:
        importlib.import_module(module)

    def run() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:
                # The step that needs the module imports it again and fails with the error.
                return

    threading.Thread(target=run, name="iwh-import-build-steps", daemon=True).start()
