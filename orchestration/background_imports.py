"""Import the later build steps' libraries while dbt runs.

Great Expectations, statsmodels, scipy and matplotlib take about 4 s to import. The steps that use
them import them when they run, so loading the definitions (`iwh run`, the UI, a sensor tick) does
not pay for them. During a build, dbt runs in a process of its own while this process mostly waits
for its output: importing them then, on the otherwise idle core, takes them off the way to the
published warehouse.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence

BUILD_STEP_MODULES = ("expectations.run", "analysis.models", "analysis.contribution", "analysis.report")


def import_in_background(modules: Sequence[str] = BUILD_STEP_MODULES) -> None:
    def run() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:
                # The step that needs the module imports it again and fails with the error.
                return

    threading.Thread(target=run, name="iwh-import-build-steps", daemon=True).start()
