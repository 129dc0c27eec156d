"""/examples/browser/ exists only in dev mode: its config.json hands out a user token."""

from collections.abc import Iterator

import httpx
import pytest

from app import examples
from app.devmode import DEV_UPSTREAM_ENV, dev_token
from mock_openrouter.process import MockProcess
from tests.factories import JWT_SECRET
from tests.gateways import inprocess_client


@pytest.fixture
def dev_client(mock_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv(DEV_UPSTREAM_ENV, mock_url)
    with inprocess_client(mock_url) as client:
        yield client


@pytest.fixture
def mock_url(mock: MockProcess) -> str:
    return mock.base_url


def test_dev_mode_serves_the_page_and_the_dev_token(dev_client: httpx.Client) -> None:
    page = dev_client.get("/examples/browser/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="app.js">' in page.text
    config = dev_client.get("/examples/browser/config.json")
    assert config.headers["cache-control"] == "no-store"
    assert config.json() == {
        "gateway": "",
        "token": dev_token(JWT_SECRET)[0],
        "models": examples.DEV_MODELS,
    }
    script = dev_client.get("/examples/browser/messages.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert dev_client.get("/examples/browser").headers["location"] == "/examples/browser/"


@pytest.mark.parametrize(
    "path",
    [
        "/examples/browser/package.json",  # not a kind of file the page needs
        "/examples/browser/node_modules/openai/index.mjs",
        "/examples/browser/%2e%2e/%2e%2e/app/config.py",
        "/examples/browser/..%2f..%2fREADME.md",
        "/examples/browser/missing.js",
    ],
)
def test_only_the_example_s_own_files_are_served(dev_client: httpx.Client, path: str) -> None:
    answer = dev_client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "NOT_FOUND"


@pytest.mark.parametrize("dev_upstream", [None, "http://127.0.0.1:1/api/v1"])
def test_no_example_and_no_token_outside_dev_mode(
    mock_url: str, monkeypatch: pytest.MonkeyPatch, dev_upstream: str | None
) -> None:
    """Unset, or naming another upstream than the one configured: a gateway with a real
    upstream never serves the page or a token."""
    if dev_upstream is None:
        monkeypatch.delenv(DEV_UPSTREAM_ENV, raising=False)
    else:
        monkeypatch.setenv(DEV_UPSTREAM_ENV, dev_upstream)
    with inprocess_client(mock_url) as client:
        for path in ("/examples/browser/", "/examples/browser/config.json"):
            assert client.get(path).status_code == 404
