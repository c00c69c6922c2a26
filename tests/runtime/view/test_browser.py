"""`nasctl view` in a real browser: headless Chromium loads the page of a finished experiment.

Skipped where no Chromium is installed (the Makefile installs Debian's `chromium` for CI).
"""

from __future__ import annotations

import html.parser
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# What a headless browser needs to run in a container, offline, without touching anything else.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-default-apps", "--mute-audio")


@pytest.fixture
def browser() -> str:
    """The Chromium executable (the test is skipped without one)."""
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium found (looked for {', '.join(_BROWSERS)} on PATH); "
                "install Debian's chromium package to run the browser test")


@pytest.fixture
def view_url(browser: str, finished: Any) -> Any:
    """`nasctl view ID --port 0` running on the finished experiment; yields the page's URL."""
    env = dict(os.environ, NAS_HOME=str(finished.home))
    process = subprocess.Popen([sys.executable, "-m", "nasctl.runtime.cli", "view", finished.id, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    try:
        line = process.stdout.readline()  # "nasctl view of HOME: http://127.0.0.1:PORT/#ID  (...)"
        assert "http://127.0.0.1:" in line, f"nasctl view printed {line!r}; stderr: {process.stderr.read()}"
        yield line.split(": ", 1)[1].split()[0]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=120)


_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"))


class _Page(html.parser.HTMLParser):
    """The trial ids in the trials table and the drawn line paths inside `#curves`."""

    def __init__(self) -> None:
        super().__init__()
        self.trial_rows: list[str] = []
        self.curve_paths: list[str] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of each open element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "tr" and attributes.get("data-trial-id"):
            self.trial_rows.append(attributes["data-trial-id"] or "")
        inside_curves = any(element_id == "curves" for _, element_id in self._open)
        if tag == "path" and inside_curves and "js-line" in (attributes.get("class") or "").split():
            self.curve_paths.append(attributes.get("d") or "")
        if tag not in _VOID:
            self._open.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                return


def test_the_page_lists_every_trial_and_draws_a_curve(browser: str, finished: Any, view_url: str,
                                                     tmp_path: Path) -> None:
    out = _chromium(browser, tmp_path / "profile", "--dump-dom", view_url)
    assert out.returncode == 0, out.stderr[-2000:]
    page = _Page()
    page.feed(out.stdout)
    assert sorted(page.trial_rows) == sorted(finished.trial_ids)
    drawn = [d for d in page.curve_paths if d.startswith("M") and "L" in d]  # a line through >= 2 points
    assert drawn, f"no curve drawn in #curves; paths: {page.curve_paths}"
    assert 'id="best-architecture"' in out.stdout
    assert "RuntimeError: trial two always fails" in out.stdout  # the failed trial's stderr tail


def test_the_page_reports_an_unknown_experiment(browser: str, view_url: str, tmp_path: Path) -> None:
    out = _chromium(browser, tmp_path / "profile", "--dump-dom", view_url.split("#")[0] + "#nosuch")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no experiment 'nosuch'" in out.stdout
