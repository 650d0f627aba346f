"""Headless Chromium for tests that must see a page as a reader does (Debian's `chromium`).

    from browser import requires_chromium, dump_dom
    @pytest.mark.browser
    @requires_chromium
    def test_page(tmp_path): dom = dump_dom(path_or_url, tmp_path)

``Browser`` drives one Chromium over the DevTools protocol for many pages and also reports the
dialogs a page opens and its console messages.

Every run gets a fresh profile and no background traffic: no sync, no component updates,
no QUIC, no first-run pages. Local files load as file:// URLs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websockets.exceptions
import websockets.sync.client

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


def console_messages(target: str | Path, timeout_s: float = 90) -> list[str]:
    """What the page wrote to the browser's console while loading: errors, and every Content-Security-
    Policy violation (Chromium reports those there)."""
    completed = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", _url(target)], timeout_s)
    if completed.returncode != 0:
        raise AssertionError(f"chromium could not render {target}: exit {completed.returncode}")
    return [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]


def screenshot(target: str | Path, out_png: Path, window_size: str = "1280,1600", timeout_s: float = 90) -> Path:
    completed = _run([f"--window-size={window_size}", f"--screenshot={out_png}", _url(target)], timeout_s)
    if completed.returncode != 0 or not out_png.is_file():
        raise AssertionError(
            f"chromium could not screenshot {target}: exit {completed.returncode}\n{completed.stderr[-2000:]}"
        )
    return out_png


@dataclass
class PageVisit:
    """What a reader's browser did with one page: its DOM once loaded, the JavaScript dialogs it
    opened (dismissed at once), its console messages and what its Content-Security-Policy blocked."""

    url: str
    dom: str
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    # What the page's Content-Security-Policy blocked: Chromium's issue details for each.
    blocked: list[dict] = field(default_factory=list)


class Browser:
    """One headless Chromium driven over the DevTools protocol, for many pages, several tabs at once.

        with Browser() as browser:
            visit = browser.visit(path)
            for visit in browser.visit_all(paths): ...

    Unlike ``dump_dom`` it sees dialogs (a page that opens one would otherwise hang until it is
    answered) and console messages. Each tab is its own DevTools session and every event names
    its session, so what a page does is attributed to that page even while others load."""

    def __init__(self, timeout_s: float = 60, tabs: int = 8) -> None:
        self.timeout_s = timeout_s
        self.tabs = tabs
        self._next_id = 0
        # The visit each tab's session is loading now, and the sessions whose load event came.
        self._visits: dict[str, PageVisit] = {}
        self._loaded: set[str] = set()

    def __enter__(self) -> Browser:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        self._profile = tempfile.TemporaryDirectory(prefix="iwh-chromium-")
        self._connection = contextlib.ExitStack()
        self._process = subprocess.Popen(
            [binary, *QUIET_FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Chromium writes the port it listens on, and the browser's endpoint, into the profile.
            active_port = Path(self._profile.name) / "DevToolsActivePort"
            deadline = time.monotonic() + self.timeout_s
            while not (active_port.is_file() and len(active_port.read_text().splitlines()) == 2):
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("chromium did not open its DevTools port")
                time.sleep(0.1)
            port, path = active_port.read_text().splitlines()
            self._socket = self._connection.enter_context(
                websockets.sync.client.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
            )
            self._sessions = []
            for _ in range(self.tabs):
                target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
                session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
                for domain in ("Page", "Runtime", "Log", "Audits"):
                    self._call(f"{domain}.enable", session=session)
                self._sessions.append(session)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        # Asked to close, Chromium waits for its renderers and is done with the profile when it
        # exits; terminated, a renderer may still be writing into it while it is removed.
        # (No socket if Chromium never opened its port; a closed one if it already went away.)
        with contextlib.suppress(AttributeError, websockets.exceptions.ConnectionClosed):
            self._send("Browser.close", None, session=None)
        self._connection.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._profile.cleanup()

    def visit(self, target: str | Path) -> PageVisit:
        [visit] = self.visit_all([target])
        return visit

    def visit_all(self, targets: Iterable[str | Path]) -> Iterator[PageVisit]:
        """Every target's visit, in order, loaded a batch of ``tabs`` at a time."""
        targets = list(targets)
        for start in range(0, len(targets), self.tabs):
            batch = targets[start : start + self.tabs]
            self._visits = {
                session: PageVisit(url=_url(target), dom="") for session, target in zip(self._sessions, batch)
            }
            self._loaded = set()
            for session, visit in self._visits.items():
                navigation = self._call("Page.navigate", {"url": visit.url}, session=session)
                if "errorText" in navigation:
                    raise RuntimeError(f"{visit.url}: {navigation['errorText']}")
            while not self._loaded >= self._visits.keys():
                self._receive()
            # Console messages and issues of a load arrive after its event.
            self._drain(quiet_s=0.5)
            for session, visit in self._visits.items():
                root = self._call("DOM.getDocument", {"depth": -1}, session=session)["root"]["nodeId"]
                visit.dom = self._call("DOM.getOuterHTML", {"nodeId": root}, session=session)["outerHTML"]
            visits, self._visits = list(self._visits.values()), {}
            yield from visits

    def _send(self, method: str, params: dict | None, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        return self._next_id

    def _call(self, method: str, params: dict | None = None, session: str | None = None):
        call_id = self._send(method, params, session)
        while True:
            message = self._receive()
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def _drain(self, quiet_s: float) -> None:
        while True:
            try:
                self._receive(timeout_s=quiet_s)
            except TimeoutError:
                return

    def _receive(self, timeout_s: float | None = None) -> dict:
        message = json.loads(self._socket.recv(timeout=timeout_s or self.timeout_s))
        method, params, session = message.get("method"), message.get("params", {}), message.get("sessionId")
        visit = self._visits.get(session)
        if visit is None:
            return message
        if method == "Page.loadEventFired":
            self._loaded.add(session)
        elif method == "Page.javascriptDialogOpening":
            visit.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            self._send("Page.handleJavaScriptDialog", {"accept": False}, session=session)
        elif method == "Runtime.consoleAPICalled":
            visit.console.append(" ".join(str(argument.get("value", "")) for argument in params.get("args", [])))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            visit.console.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
        elif method == "Audits.issueAdded":
            # Chromium reports what a Content-Security-Policy blocked as an issue, not a console line.
            issue = params["issue"]
            if issue.get("code") == "ContentSecurityPolicyIssue":
                visit.blocked.append(issue["details"]["contentSecurityPolicyIssueDetails"])
        return message
