"""Headless Chromium for tests that must see a page as a reader does (Debian's `chromium`).

    from browser import requires_chromium, dump_dom
    @pytest.mark.browser
    @requires_chromium
    def test_page(tmp_path): dom = dump_dom(path_or_url, tmp_path)

Every run gets a fresh profile and no background traffic: no sync, no component updates,
no QUIC, no first-run pages. Local files load as file:// URLs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


requires_chromium = pytest.mark.skipif(chromium_path() is None, reason="Debian chromium is not installed")


def _url(target: str | Path) -> str:
    if isinstance(target, Path) or not str(target).startswith(("http://", "https://", "file://")):
        return Path(target).resolve().as_uri()
    return str(target)


def _run(arguments: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="iwh-chromium-") as profile:
        return subprocess.run(
            [binary, *QUIET_FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


def dump_dom(
    target: str | Path,
    timeout_s: float = 90,
    virtual_time_budget_ms: int | None = None,
    window_size: str | None = None,
) -> str:
    """The DOM after the page loaded (and its scripts ran for ``virtual_time_budget_ms``).

    Pages that virtualise long lists or graphs render only what fits the window: pass a
    large ``window_size`` ("width,height") to get everything into the DOM.
    """
    budget = [f"--virtual-time-budget={virtual_time_budget_ms}"] if virtual_time_budget_ms else []
    window = [f"--window-size={window_size}"] if window_size else []
    completed = _run([*budget, *window, "--dump-dom", _url(target)], timeout_s)
    if completed.returncode != 0 or not completed.stdout.strip():
        raise AssertionError(
            f"chromium could not render {target}: exit {completed.returncode}\n{completed.stderr[-2000:]}"
        )
    return completed.stdout


def screenshot(target: str | Path, out_png: Path, window_size: str = "1280,1600", timeout_s: float = 90) -> Path:
    completed = _run([f"--window-size={window_size}", f"--screenshot={out_png}", _url(target)], timeout_s)
    if completed.returncode != 0 or not out_png.is_file():
        raise AssertionError(
            f"chromium could not screenshot {target}: exit {completed.returncode}\n{completed.stderr[-2000:]}"
        )
    return out_png
