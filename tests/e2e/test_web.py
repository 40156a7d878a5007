"""`jobs web`: the admin app served by textual-serve, driven in a real headless Chromium.

The terminal is drawn on a canvas, so the page's text cannot be read from the DOM. The test
records what the browser receives on the app's websocket (the terminal output xterm.js
draws), strips the escape sequences, and reads the dashboard's counts from it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from jobs_tui.demo_seed import seed_store
from tests.conftest import pg_url

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900",
]  # fmt: skip
RECORD_FRAMES = """
window.__terminal = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new NativeWebSocket(url, protocols);
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      window.__terminal.push(new TextDecoder().decode(new Uint8Array(event.data)));
    }
  });
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
"""
"""Installed before the page's own script: keeps a copy of every terminal frame."""
COUNT = re.compile(r"(\d+)\s{3,}(queued|running|executed|completed|failed|cancelled)\b(?!\s*,)")
"""A line of the dashboard's "Jobs" pane: the count, a gap, the state. Not the summary under
the chart ("0 completed ,") nor the alert ("2 running jobs"). The pane's border is not asked
for: the first frame may draw the pane empty (a PostgreSQL store answers after it), and the
later frames send only the cells that changed."""
ESCAPES = re.compile(
    r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jobs web exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"jobs web did not listen on {port} within {timeout}s")


@pytest.fixture(params=["sqlite", "postgres"])
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, Path]]:
    """`jobs web` on a seeded store (a directory, or a schema of the tests' PostgreSQL
    server: read-only sessions on PostgreSQL), on a free port; its process group is ended
    after."""
    if request.param == "sqlite":
        location = str(tmp_path / "store")
    else:
        location = pg_url(request.getfixturevalue("pg_server"))
    asyncio.run(seed_store(location))
    port = free_port()
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs_cli", "web", location, "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, process)
        yield port, tmp_path / "web.log"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium (no download, no network), with a fresh profile."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    assert not missing, f"install chromium and chromium-driver (.ci/run does): {missing}"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_FRAMES})
        yield driver
    finally:
        driver.quit()


def terminal_text(driver: webdriver.Chrome) -> str:
    """Everything the app sent to the browser's terminal, escape sequences removed."""
    frames = driver.execute_script("return (window.__terminal || []).join('')")
    return ESCAPES.sub(" ", str(frames))


def test_jobs_web_serves_the_dashboard_with_the_store_counts_read_only(
    served: tuple[int, Path], browser: webdriver.Chrome
) -> None:
    port, log = served
    browser.get(f"http://127.0.0.1:{port}/")
    start = browser.find_elements(By.ID, "start")
    if start and start[0].is_displayed():
        start[0].click()  # textual-serve's start page, when it shows one
    deadline = time.monotonic() + 30
    text = ""
    counts: dict[str, int] = {}
    # Until the pane's six counts are drawn and the dashboard below them (its last line).
    while time.monotonic() < deadline:
        text = terminal_text(browser)
        counts = {}
        for n, state in COUNT.findall(text):
            counts.setdefault(state, int(n))  # the first: the "Jobs" pane, drawn above the rest
        if len(counts) == 6 and "Monthly databases" in text:
            break
        time.sleep(0.2)
    assert counts == {"queued": 7, "running": 2, "executed": 0, "completed": 8, "failed": 1,
                      "cancelled": 1}, text[-3000:]  # fmt: skip
    assert "read-only" in text
    assert browser.find_element(By.CSS_SELECTOR, ".xterm canvas").size["width"] > 600
    assert f"http://127.0.0.1:{port}/ (read-only)" in log.read_text()
