"""The real JavaScript clients (tests/clients/*.test.mjs) against the running gateway and mock."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from mock_openrouter.process import MockProcess
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess

CLIENTS = Path(__file__).parent / "clients"
NODE_TIMEOUT_S = 120


@pytest.fixture
def policy_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(ALLOWED_MODELS="mock/*,openai/*", MAX_COMPLETION_TOKENS="1000")


@pytest.fixture
def quota_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(QUOTA_RPM="1")


@pytest.mark.parametrize("script", ["legacy_sdk.test.mjs", "openai_sdk.test.mjs"])
def test_js_client(
    script: str,
    gateway: GatewayProcess,
    policy_gateway: GatewayProcess,
    quota_gateway: GatewayProcess,
    mock: MockProcess,
) -> None:
    env = {
        **os.environ,
        "GATEWAY_URL": gateway.url,
        "POLICY_GATEWAY_URL": policy_gateway.url,
        "QUOTA_GATEWAY_URL": quota_gateway.url,
        # A caller of its own per run: the quota gateway's minute is shared by the scripts.
        "QUOTA_TOKEN": make_token(f"quota-{script}-{uuid.uuid4().hex[:8]}"),
        "MOCK_URL": mock.root_url,
        "USER_TOKEN": make_token("user-42"),
        "EXPIRED_TOKEN": make_token("user-42", expires_in=-60),
        "FRESH_TOKEN": make_token("user-42", expires_in=600, jti="fresh"),
    }
    run = subprocess.run(
        ["node", "--test", "--test-reporter=spec", script],
        cwd=CLIENTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stdout + run.stderr
