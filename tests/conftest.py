"""Shared fixtures: the mock OpenRouter and the gateway, each a real process on a real socket."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_openrouter.process import MockProcess, start_mock
from tests.factories import make_token
from tests.procs import GatewayProcess


class Journal:
    """The mock's request journal and scenario queue, cleared for each test."""

    def __init__(self, mock: MockProcess) -> None:
        self.root = mock.root_url

    def clear(self) -> None:
        httpx.post(f"{self.root}/__mock/reset").raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.root}/__mock/requests")
        resp.raise_for_status()
        entries: list[dict[str, Any]] = resp.json()
        return entries

    def enqueue(self, *responses: dict[str, Any], path: str = "/api/v1/chat/completions") -> None:
        spec = {"match": {"path": path, "model": "*"}, "responses": list(responses)}
        httpx.post(f"{self.root}/__mock/enqueue", json=spec).raise_for_status()


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=20261123) as process:
        yield process


@pytest.fixture(scope="session")
def gateway(mock: MockProcess) -> Iterator[GatewayProcess]:
    with GatewayProcess(mock.base_url) as process:
        yield process


@pytest.fixture
def journal(mock: MockProcess) -> Journal:
    j = Journal(mock)
    j.clear()
    return j


@pytest.fixture
def user_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('user-42')}"}


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as c:
        yield c
