"""Every bad setting stops start-up with one line naming it, never a traceback; dev mode too
(and then the mock it started is stopped as well)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import JWT_SECRET, UPSTREAM_KEY

GOOD = {"OPENROUTER_API_KEY": UPSTREAM_KEY, "JWT_SECRET": JWT_SECRET, "LEDGER_ENABLED": "false"}


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in GOOD}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**inherited, **GOOD, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("LOG_LEVEL", "verbose", "LOG_LEVEL: Input should be 'critical', 'error'"),
        ("ASSET_TRUSTED_NETWORKS", "10.0.0.0/8,intranet", "ASSET_TRUSTED_NETWORKS: 'intranet'"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY: Input should be greater than 0"),
        (
            "JWT_PUBLIC_KEY",
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
            "JWT_PUBLIC_KEY: neither a PEM public key nor the path of a readable file holding one",
        ),
        ("JWT_LEEWAY_S", "31", "JWT_LEEWAY_S: Input should be less than or equal to 30"),
        ("JWT_KEY_ID", "kid-1", "JWT_PUBLIC_KEY and JWT_KEY_ID go together"),
    ],
)
def test_a_bad_setting_is_one_line(tmp_path: Path, name: str, value: str, says: str) -> None:
    run = start(tmp_path, **{name: value})
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("ai-gateway: configuration error: " + says), lines


def test_a_log_level_in_capitals_is_accepted() -> None:
    from tests.factories import make_settings

    assert make_settings(log_level="WARNING").log_level == "warning"


def test_a_bad_setting_in_dev_mode_is_one_line_and_stops_the_mock(tmp_path: Path) -> None:
    run = start(tmp_path, "--mock-upstream", LOG_LEVEL="loud")
    assert run.returncode == 1
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .startswith("ai-gateway: configuration error: LOG_LEVEL:")
    ), run.stderr
    assert "Traceback" not in run.stderr


def test_quotas_without_redis_refuse_several_workers(tmp_path: Path) -> None:
    """Each worker would count its own limits: N workers would allow N times each."""
    run = start(tmp_path, "--workers", "2", QUOTA_RPM="10")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "ai-gateway: configuration error: QUOTA_* limits with more than one worker need "
        "REDIS_URL (each worker would count its own)"
    ]
