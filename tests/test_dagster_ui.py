"""Operators live in the Dagster UI: `dagster dev` must serve the asset graph of our definitions."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import chromium_path, render_dom

REPO = Path(__file__).resolve().parent.parent
DAGSTER = Path(sys.executable).parent / "dagster"


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason="Debian chromium is not installed")
def test_dagster_dev_serves_the_asset_graph(tmp_path):
    port = _free_loopback_port()
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(tmp_path / "dagster"),
        IWH_HOME=str(tmp_path / "home"),
        IWH_LANDING_DIR=str(tmp_path / "no-landing-yet"),
    )
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    process = subprocess.Popen(
        [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/server_info", process, timeout_s=180)
        dom = render_dom(f"http://127.0.0.1:{port}/assets", wait_ms=25_000)
        for asset_name in ("nir_deltakere", "participant_exits", "published_snapshot"):
            assert asset_name in dom, f"{asset_name} not shown in the asset catalog"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError("dagster dev did not shut down within 60 s of SIGTERM") from None
