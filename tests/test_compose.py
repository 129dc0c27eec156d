"""docker-compose.yml without Docker: valid against the Compose Specification's own JSON schema
(tests/schemas/), and the shape the deployment needs — two gateway replicas behind nginx, Redis
and PostgreSQL with healthchecks that gate the start, a stop grace longer than the streams',
and Prometheus (profile `metrics`) scraping every replica. tests/test_deploy.py runs the same
shape as two native processes."""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from app.config import Settings
from tests.factories import JWT_SECRET, UPSTREAM_KEY

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
RAW = (ROOT / "docker-compose.yml").read_text()
# What an operator's .env gives compose for its `${…}` substitutions.
DOT_ENV = {"POSTGRES_PASSWORD": "s3cretpw"}


def settings_from(env: dict[str, str]) -> Settings:
    """What a gateway given `env` (and real secrets) runs with; nothing read from this process."""
    values: dict[str, Any] = {"OPENROUTER_API_KEY": UPSTREAM_KEY, "JWT_SECRET": JWT_SECRET, **env}
    return Settings(_env_file=None, **{k.lower(): v for k, v in values.items()})


DEFAULTS = settings_from({})


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` substitutions."""

    def one(found: re.Match[str]) -> str:
        name, op, arg = found[1], found[2], found[3]
        if env.get(name):
            return env[name]
        if op == ":?":
            raise ValueError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, text)


def compose(env: dict[str, str] = DOT_ENV) -> dict[str, Any]:
    loaded = yaml.safe_load(interpolate(RAW, env))
    assert isinstance(loaded, dict)
    return loaded


COMPOSE = compose()
SERVICES: dict[str, Any] = COMPOSE["services"]
GATEWAY: dict[str, Any] = SERVICES["gateway"]
GATEWAY_ENV: dict[str, str] = GATEWAY["environment"]


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def mounted(service: dict[str, Any], inside: str) -> Path:
    """The file of this repository that `service` mounts at `inside`."""
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if target == inside:
            return ROOT / str(source)
    raise AssertionError(f"nothing mounted at {inside}")


def test_valid_against_the_compose_specification() -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(COMPOSE)


def test_the_database_password_must_be_set() -> None:
    # Compose refuses to start without it instead of running PostgreSQL with a known password.
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        compose({})


def test_two_gateway_replicas_from_this_image_with_env_file_secrets() -> None:
    assert GATEWAY["build"] == "."
    assert GATEWAY["env_file"] == ".env"
    assert GATEWAY["deploy"]["replicas"] == 2
    assert "ports" not in GATEWAY  # replicas cannot share a host port: the proxy publishes one
    assert GATEWAY_ENV["HOST"] == "0.0.0.0"


def test_every_gateway_variable_is_a_valid_setting() -> None:
    assert {name.lower() for name in GATEWAY_ENV} <= set(Settings.model_fields)
    settings = settings_from(GATEWAY_ENV)
    assert settings.port == 8080
    assert settings.metrics_port == 9464


def test_the_gateway_uses_the_compose_redis_and_postgres_once_healthy() -> None:
    redis = urlsplit(GATEWAY_ENV["REDIS_URL"])
    database = urlsplit(GATEWAY_ENV["DATABASE_URL"])
    assert redis.scheme == "redis"
    assert database.scheme == "postgresql"
    assert redis.hostname in SERVICES
    assert database.hostname in SERVICES
    postgres = SERVICES[database.hostname]["environment"]
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"] == DOT_ENV["POSTGRES_PASSWORD"]
    assert database.path == "/" + postgres["POSTGRES_DB"]
    for name in (redis.hostname, database.hostname):
        assert GATEWAY["depends_on"][name] == {"condition": "service_healthy"}
        assert SERVICES[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    pg_ready = SERVICES[database.hostname]["healthcheck"]["test"]
    assert pg_ready[1] == "pg_isready"
    assert postgres["POSTGRES_USER"] in pg_ready
    assert postgres["POSTGRES_DB"] in pg_ready


def test_the_gateway_healthcheck_asks_healthz_on_its_port() -> None:
    check = GATEWAY["healthcheck"]
    assert check["test"][0] == "CMD"
    assert f"127.0.0.1:{GATEWAY_ENV['PORT']}/healthz" in " ".join(check["test"])
    assert seconds(check["timeout"]) < seconds(check["interval"])


def test_stopping_leaves_streams_their_grace() -> None:
    # Docker's default (10 s) equals SHUTDOWN_GRACE_S: streams were killed before their last
    # event. The ledger's flush comes after the grace, so there must be room beyond it.
    grace = float(GATEWAY_ENV.get("SHUTDOWN_GRACE_S", DEFAULTS.shutdown_grace_s))
    assert seconds(GATEWAY["stop_grace_period"]) >= grace + 10


def test_one_published_port_spread_over_every_replica() -> None:
    proxy = SERVICES["proxy"]
    assert proxy["ports"] == [f"{GATEWAY_ENV['PORT']}:8080"]
    assert proxy["depends_on"]["gateway"] == {"condition": "service_healthy"}
    conf = mounted(proxy, "/etc/nginx/conf.d/default.conf").read_text()
    assert "listen 8080;" in conf
    # Every replica by the service name, resolved again while nginx runs (Docker's DNS).
    assert re.search(rf"server gateway:{GATEWAY_ENV['PORT']} resolve;", conf)
    assert "resolver 127.0.0.11" in conf
    assert "proxy_buffering off;" in conf  # events go out as they come
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", conf)
    assert read_timeout
    assert int(read_timeout[1]) > DEFAULTS.upstream_total_timeout_s  # the gateway's decide


def test_prometheus_scrapes_every_replica_under_its_profile() -> None:
    prometheus = SERVICES["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    assert [name for name, s in SERVICES.items() if "profiles" in s] == ["prometheus"]
    config = yaml.safe_load(mounted(prometheus, "/etc/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["gateway"]  # every replica's address, not one
    assert discovery["type"] == "A"
    assert str(discovery["port"]) == GATEWAY_ENV["METRICS_PORT"]
    assert GATEWAY_ENV["METRICS_PORT"] in GATEWAY["expose"]


def test_images_are_pinned() -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    assert GATEWAY["image"] == f"ai-gateway:{version[1]}"
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image, name
        assert not image.endswith(":latest"), name


def test_the_readers_above() -> None:
    assert interpolate("a${X:-d}b${Y}", {"X": "1", "Y": "2"}) == "a1b2"
    assert interpolate("${X:-d}", {}) == "d"
    assert seconds("1m30s") == 90
    wrong = {**COMPOSE, "services": {"gateway": {**GATEWAY, "stop_grace": "30s"}}}
    with pytest.raises(jsonschema.ValidationError):  # the schema refuses unknown keys
        jsonschema.Draft202012Validator(SCHEMA).validate(wrong)
