"""Whether R and the packages a test needs are installed (R tests are skipped otherwise)."""

from __future__ import annotations

import shutil
import subprocess


def r_has(*packages: str) -> bool:
    if shutil.which("Rscript") is None:
        return False
    check = "quit(status = !all(sapply(commandArgs(TRUE), requireNamespace, quietly = TRUE)))"
    return subprocess.run(["Rscript", "-e", check, *packages], capture_output=True).returncode == 0
