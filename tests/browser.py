"""A real browser for the example app (examples/browser/): Debian's chromium driven by
Playwright, and the example served from an origin of its own, as a developer's copy would be.

Playwright's own browser download cannot work on this network; scripts/chromium.sh installs
Debian's package and `CHROMIUM` names another binary where that is not the path.
"""

import os
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mock_openrouter.process import Closing, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = ROOT / "examples" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless as root, and quiet: without the background-networking flags Chromium keeps trying
# Google's hosts, which a closed network refuses many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "browser"


def screenshot_path(test_name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-") + ".png")


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticSite(Closing):
    """examples/browser/ as plain static files at http://localhost:PORT: another origin than
    the gateway's http://127.0.0.1:PORT, so every call the page makes is cross-origin."""

    def __init__(self) -> None:
        self.port = free_port()
        handler = partial(_QuietFiles, directory=str(EXAMPLE_DIR))
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
