"""Gateway settings, read from the environment and an optional `.env` file.

Names that InsForge already had (OPENROUTER_API_KEY, JWT_SECRET, ACCESS_ANON_KEY, ACCESS_API_KEY,
MAX_COMPLETION_TOKENS) keep their meaning, so an existing InsForge `.env` carries over.
Settings are validated once at start-up and passed around explicitly; nothing reads a global.
"""

import ipaddress
from functools import lru_cache
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.keypair import read_public_key

# Values that mean "nobody filled this in"; start-up refuses them.
_PLACEHOLDERS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "changethis",
        "secret",
        "your-secret",
        "xxx",
        "todo",
        "placeholder",
    }
)


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in _PLACEHOLDERS or lowered.startswith(("your-", "<", "sk-or-v1-xxx"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    openrouter_api_key: SecretStr = SecretStr("")
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_site_url: str = "https://insforge.dev"
    openrouter_app_name: str = "InsForge"
    jwt_secret: SecretStr = SecretStr("")
    # InsForge's key-pair mode (app/keypair.py): tokens whose header says RS256 with kid
    # JWT_KEY_ID are verified with this RSA public key (the PEM, or a path to one).
    jwt_public_key: str | None = None
    jwt_key_id: str | None = None
    # Another identity provider's keys (app/jwks.py): RS256/ES256 tokens picked by `kid`. Its
    # issuer and audience, when set, and the clock skew allowed apply to these tokens only.
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_ttl_s: float = Field(default=600.0, gt=0)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: float = Field(default=0.0, ge=0, le=30)
    access_anon_key: SecretStr | None = None
    access_api_key: SecretStr | None = None
    ai_allow_anon: bool = False
    max_completion_tokens: int = Field(default=16384, gt=0)
    # Model allow-list: comma-separated globs (e.g. "openai/*,anthropic/claude-*"); empty = all.
    allowed_models: Annotated[list[str], NoDecode] = []
    # Hosts a video job's `callback_url` may name (https only; a host or `*.domain`): any other
    # is dropped before the job goes upstream (app/v1/videos.py).
    video_callback_hosts: Annotated[list[str], NoDecode] = []

    # Remote assets (image/file URLs in requests): inline = fetch here (SSRF-safe) and send a
    # data: URL; allowlist = pass listed hosts' URLs unchanged, refuse others; reject = data: only.
    asset_policy: Literal["inline", "allowlist", "reject"] = "inline"
    openrouter_allowed_remote_asset_hosts: Annotated[list[str], NoDecode] = []
    asset_allow_http: bool = False
    asset_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    asset_fetch_timeout_s: float = Field(default=10.0, gt=0)
    asset_max_redirects: int = Field(default=3, ge=0, le=10)
    # Networks the fetcher may reach although they are not public (an internal asset server).
    asset_trusted_networks: Annotated[list[str], NoDecode] = []
    # One request may not fan out without bound: asset parts per request, bytes inlined in
    # total, and fetches running at once.
    asset_max_parts: int = Field(default=16, gt=0)
    asset_max_total_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    asset_fetch_concurrency: int = Field(default=4, gt=0, le=64)

    cors_origins: Annotated[list[str], NoDecode] = []
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Worker processes sharing the port (app/workers.py); `ai-gateway --workers N` wins.
    web_concurrency: int = Field(default=1, gt=0, le=64)
    # uvicorn's names; checked at start-up so a typo is one line, not a traceback.
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    log_prompts: bool = False
    # `json` (the image's default) or `text`; every line carries the request id (app/logs.py).
    log_format: Literal["json", "text"] = "text"
    # Prometheus metrics (app/metrics.py) on /metrics with the admin key, and, when set, without
    # a key on a port of their own for a scraper inside the cluster.
    metrics_enabled: bool = True
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # Limits beyond the legacy schema: the legacy backend accepted 100 MB bodies and any
    # number of messages, which lets one caller pin memory and spend the key freely.
    max_request_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_prompt_chars: int = Field(default=1_000_000, gt=0)
    max_messages: int = Field(default=500, gt=0)
    # The shape of a JSON body, bounded before any validation: nesting depth (orjson cannot
    # write beyond 254 levels, and deep input is only ever hostile) and array elements plus
    # object members in the whole body (each can cost a validation error).
    max_json_depth: int = Field(default=64, gt=0, le=128)
    max_json_items: int = Field(default=20_000, gt=0)

    # The HTTP server's own bounds, for callers who never finish a request: bytes of request
    # line plus headers (431), time to send them (408), time to send the body (408), and open
    # connections (503 beyond).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    header_read_timeout_s: float = Field(default=10.0, gt=0)
    body_read_timeout_s: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=10_000, gt=0)
    # uvicorn's event loop: `auto` is uvloop when installed (bench/accept.py compares them).
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    # `/healthz` on a port of its own, answered from a thread however busy the event loop is
    # (app/liveness.py): for a liveness probe. Unset: only the main port's.
    health_port: int | None = Field(default=None, ge=0, le=65535)

    # Picked by bench/transport.py: the aiohttp transport costs far less CPU per request.
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    # Streams: time to the first data event (keep-alive comments do not count), silence
    # between events, whole lifetime; pings to the caller; how long a stalled reader may block.
    stream_first_event_timeout_s: float = Field(default=120.0, gt=0)
    stream_idle_timeout_s: float = Field(default=60.0, gt=0)
    stream_max_lifetime_s: float = Field(default=900.0, gt=0)
    sse_ping_s: float = Field(default=15.0, gt=0)
    sse_send_timeout_s: float = Field(default=30.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    upstream_connect_timeout_s: float = Field(default=5.0, gt=0)
    upstream_read_timeout_s: float = Field(default=120.0, gt=0)
    upstream_total_timeout_s: float = Field(default=600.0, gt=0)
    # Image generation can take minutes; it gets its own bound instead of the chat one.
    image_upstream_timeout_s: float = Field(default=300.0, gt=0)
    models_cache_ttl_s: float = Field(default=3600.0, gt=0)
    upstream_max_connections: int = Field(default=512, gt=0)
    # How long a call may wait for a free upstream connection; beyond it the gateway is busy
    # (503 with Retry-After), which is not the upstream timing out.
    upstream_pool_timeout_s: float = Field(default=10.0, gt=0)
    # A caller holding this many upstream connections takes another only while as many stay free
    # for other callers (app/upstream/slots.py); unset: an eighth of UPSTREAM_MAX_CONNECTIONS.
    upstream_fair_share: int | None = Field(default=None, gt=0)
    upstream_max_keepalive: int = Field(default=128, ge=0)
    upstream_max_retries: int = Field(default=2, ge=0, le=5)
    upstream_retry_base_s: float = Field(default=0.5, ge=0)
    upstream_retry_after_cap_s: float = Field(default=10.0, ge=0)

    # The usage ledger (app/ledger/): one row per AI call. Unset DATABASE_URL means an SQLite
    # file under DATA_DIR; `postgresql://…` uses PostgreSQL. Rows wait in a bounded queue (past
    # it they are dropped and counted) and are written in batches of LEDGER_BATCH_SIZE or
    # every LEDGER_FLUSH_S seconds, whichever comes first.
    database_url: str | None = None
    data_dir: str = "./data"
    ledger_enabled: bool = True
    ledger_queue_max: int = Field(default=10_000, gt=0)
    ledger_batch_size: int = Field(default=500, gt=0)
    ledger_flush_s: float = Field(default=1.0, gt=0)
    # Legacy chat and image calls need an active AI configuration for their model (as the
    # legacy backend required); the configurations live in the ledger's database.
    ai_require_config: bool = False
    # Limits per caller (app/quotas/), each off when unset: requests per minute, tokens per UTC
    # day, USD per UTC day and month, calls in flight (streams and JSON calls). They apply to
    # every signed-in user and to the anonymous caller; the admin is not limited.
    quota_rpm: int | None = Field(default=None, gt=0)
    quota_tokens_per_day: int | None = Field(default=None, gt=0)
    quota_usd_per_day: float | None = Field(default=None, gt=0)
    quota_usd_per_month: float | None = Field(default=None, gt=0)
    quota_concurrent_streams: int | None = Field(default=None, gt=0)
    # Where the limits are counted: this process's memory, or Redis for every process at once
    # (`redis://[:password@]host:6379/0`). When Redis cannot be reached, `closed` answers 503
    # and `open` serves without limits.
    redis_url: SecretStr | None = None
    quota_fail_mode: Literal["closed", "open"] = "closed"

    @field_validator(
        "quota_rpm",
        "quota_tokens_per_day",
        "quota_usd_per_day",
        "quota_usd_per_month",
        "quota_concurrent_streams",
        "redis_url",
        "upstream_fair_share",
        "metrics_port",
        "health_port",
        "jwt_public_key",
        "jwt_key_id",
        "jwt_jwks_url",
        "jwt_issuer",
        "jwt_audience",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`QUOTA_RPM=` (as .env.example lists them) means no limit, not a parse error."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "cors_origins",
        "allowed_models",
        "openrouter_allowed_remote_asset_hosts",
        "video_callback_hosts",
        "asset_trusted_networks",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("asset_trusted_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a network (e.g. 10.0.0.0/8)") from None
        return value

    @field_validator("jwt_public_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        return None if value is None else read_public_key(value)

    @field_validator("jwt_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = value.partition("://")[0].partition("+")[0]
        if scheme not in ("postgresql", "postgres", "sqlite"):
            raise ValueError("DATABASE_URL must start with postgresql:// or sqlite://")
        return value

    @model_validator(mode="after")
    def _enforce_real_secrets(self) -> Self:
        if _is_placeholder(self.openrouter_api_key.get_secret_value()):
            raise ValueError("OPENROUTER_API_KEY is empty or a placeholder; set it to a real value")
        secret = self.jwt_secret.get_secret_value()
        # Unset, it means "no HS256 tokens", which only a gateway with a key-pair verifier can be.
        if _is_placeholder(secret) and (secret or not self.verifies_key_pair_tokens):
            raise ValueError(
                "JWT_SECRET is empty or a placeholder; set it to a real value"
                + ("" if secret else " (or set JWT_PUBLIC_KEY or JWT_JWKS_URL instead)")
            )
        if (self.jwt_public_key is None) != (self.jwt_key_id is None):
            raise ValueError(
                "JWT_PUBLIC_KEY and JWT_KEY_ID go together: the key verifies RS256 tokens "
                "whose header kid is JWT_KEY_ID"
            )
        if self.jwt_jwks_url is None and (self.jwt_issuer or self.jwt_audience):
            raise ValueError("JWT_ISSUER and JWT_AUDIENCE apply to JWKS tokens: set JWT_JWKS_URL")
        if self.ai_require_config and not self.ledger_enabled:
            raise ValueError("AI_REQUIRE_CONFIG needs the ledger's database: set LEDGER_ENABLED")
        parts = urlsplit(self.openrouter_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("OPENROUTER_BASE_URL must be an absolute http(s) URL")
        return self

    @property
    def verifies_key_pair_tokens(self) -> bool:
        return self.jwt_public_key is not None or self.jwt_jwks_url is not None

    @property
    def api_key_value(self) -> str | None:
        return _with_prefix(self.access_api_key, "ik_")

    @property
    def anon_key_value(self) -> str | None:
        return _with_prefix(self.access_anon_key, "anon_")


def _with_prefix(secret: SecretStr | None, prefix: str) -> str | None:
    # InsForge stores these keys with their prefix added when the env value lacks it.
    if secret is None or not secret.get_secret_value():
        return None
    value = secret.get_secret_value()
    return value if value.startswith(prefix) else prefix + value


@lru_cache
def get_settings() -> Settings:
    return Settings()
