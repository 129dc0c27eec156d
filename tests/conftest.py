"""Shared fixtures: the mock OpenRouter (a real process on a real socket) and every gateway in
front of it, from one factory (tests/gateways.py): `client` talks to the app in-process,
`gateway` is a real process for what needs the wire (SDK clients, disconnects, raw sockets)."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from mock_openrouter.process import MockProcess, start_mock
from mock_openrouter.testing import MockControl
from tests.compiled import stale
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.ledger_support import postgres_role, postgres_url
from tests.procs import GatewayProcess


def pytest_sessionstart(session: pytest.Session) -> None:  # noqa: ARG001 (pytest's hook)
    changed = stale()
    if changed:
        pytest.exit(
            f"{', '.join(changed)} changed since it was compiled (setup.py), so the tests would "
            "run the old code: run scripts/setup.sh dev (scripts/test.sh does) to rebuild it",
            returncode=4,
        )


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=20261123) as process:
        yield process


# The contract's transcripts carry https://ex.com asset URLs that must reach the upstream
# unchanged; the shared gateway allows that host (the inline fetcher has its own tests).
CONTRACT_ASSETS = {"ASSET_POLICY": "allowlist", "OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS": "ex.com"}
# The shared process logs at info, so tests can find a request's access or cancellation line.
SHARED_PROCESS = {**CONTRACT_ASSETS, "LOG_LEVEL": "info"}


@pytest.fixture(scope="session")
def gateway_factory(mock: MockProcess) -> Iterator[GatewayFactory]:
    """`gateway_factory(**env)` is a gateway process, `.inprocess(**env)` the app in-process;
    either is shared by everyone asking for the same env and stopped at the session's end."""
    with GatewayFactory(mock.base_url) as factory:
        yield factory


@pytest.fixture(scope="session")
def gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(**SHARED_PROCESS)


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
def client(gateway_factory: GatewayFactory) -> Iterator[httpx.Client]:
    """The shared gateway's configuration, in-process."""
    with gateway_factory.inprocess(**CONTRACT_ASSETS).client() as c:
        yield c


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The ledger's database, once on SQLite and once on PostgreSQL (a role and schema of its
    own, dropped afterwards). A module may define its own `database_url` instead."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    async with postgres_role() as role:
        yield postgres_url(role)
