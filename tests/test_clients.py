"""The real JavaScript clients (tests/clients/*.test.mjs) against the running gateway and mock,
once with InsForge's HS256 session tokens and once with the RS256 tokens of its key-pair mode."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from mock_openrouter.process import MockProcess
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess
from tests.signing import insforge_token, key_pair_env

CLIENTS = Path(__file__).parent / "clients"
NODE_TIMEOUT_S = 120


# The policy and quota gateways verify both families, as an InsForge backend in key-pair mode
# does (JWT_SECRET beside JWT_PUBLIC_KEY), so both runs share them.
@pytest.fixture
def policy_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(
        ALLOWED_MODELS="mock/*,openai/*", MAX_COMPLETION_TOKENS="1000", **key_pair_env()
    )


@pytest.fixture
def quota_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(QUOTA_RPM="1", **key_pair_env())


@pytest.mark.parametrize("family", ["HS256", "RS256"])
@pytest.mark.parametrize("script", ["legacy_sdk.test.mjs", "openai_sdk.test.mjs"])
def test_js_client(
    script: str,
    family: str,
    gateway: GatewayProcess,
    gateway_factory: GatewayFactory,
    policy_gateway: GatewayProcess,
    quota_gateway: GatewayProcess,
    mock: MockProcess,
) -> None:
    token = make_token if family == "HS256" else insforge_token
    if family == "RS256":
        # The shared gateway's asset policy (conftest.py), and InsForge's key pair.
        contract_assets = {
            "ASSET_POLICY": "allowlist",
            "OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS": "ex.com",
        }
        gateway = gateway_factory(**contract_assets, **key_pair_env())
    env = {
        **os.environ,
        "GATEWAY_URL": gateway.url,
        "POLICY_GATEWAY_URL": policy_gateway.url,
        "QUOTA_GATEWAY_URL": quota_gateway.url,
        # A caller of its own per run: the quota gateway's minute is shared by the scripts.
        "QUOTA_TOKEN": token(f"quota-{script}-{uuid.uuid4().hex[:8]}"),
        "MOCK_URL": mock.root_url,
        "USER_TOKEN": token("user-42"),
        "EXPIRED_TOKEN": token("user-42", expires_in=-60),
        "FRESH_TOKEN": token("user-42", expires_in=600, jti="fresh"),
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
