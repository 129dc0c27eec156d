"""Shared fixtures: the mock OpenRouter and the gateway, each a real process on a real socket."""

from collections.abc import Iterator

import httpx
import pytest

from mock_openrouter.process import MockProcess, start_mock
from mock_openrouter.testing import MockControl
from tests.factories import make_token
from tests.procs import GatewayProcess


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=20261123) as process:
        yield process


# The contract's transcripts carry https://ex.com asset URLs that must reach the upstream
# unchanged; the shared gateway allows that host (the inline fetcher has its own tests).
CONTRACT_ASSETS = {"ASSET_POLICY": "allowlist", "OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS": "ex.com"}


@pytest.fixture(scope="session")
def gateway(mock: MockProcess) -> Iterator[GatewayProcess]:
    with GatewayProcess(mock.base_url, **CONTRACT_ASSETS) as process:
        yield process


@pytest.fixture
def control(mock: MockProcess) -> Iterator[MockControl]:
    """The mock's journal and scenario queue, emptied for the test."""
    ctl = MockControl(mock.root_url)
    ctl.reset()
    yield ctl
    ctl.close()


@pytest.fixture
def journal(control: MockControl) -> MockControl:
    return control


@pytest.fixture
def user_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('user-42')}"}


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as c:
        yield c
