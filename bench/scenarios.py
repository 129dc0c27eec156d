"""The requests measured, and a one-request probe of each before any load is sent.

Every gateway scenario names the upstream request it turns into (its `kind`). The baselines, the
mock straight and nginx in front of it (and LiteLLM when asked), are sent that upstream request
once per kind; every scenario of that kind is compared with the same baseline figures.
"""

import functools
import time
from dataclasses import dataclass

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from jose import jwt

HI = [{"role": "user", "content": "Hi"}]
CHAT = {"model": "mock/text", "messages": HI}
EMBED = {"model": "openai/text-embedding-3-small", "input": "Hello"}
UPSTREAM_KEY = "sk-or-bench-0123456789"


@dataclass(frozen=True)
class Kind:
    """An upstream request: what the mock, nginx and LiteLLM are sent."""

    key: str
    path: str  # under the OpenAI-compatible base, e.g. /chat/completions
    body: bytes


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    path: str
    body: bytes
    kind: Kind


KINDS = {
    "chat": Kind("chat", "/chat/completions", orjson.dumps({**CHAT, "stream": False})),
    "stream": Kind("stream", "/chat/completions", orjson.dumps({**CHAT, "stream": True})),
    "embed": Kind("embed", "/embeddings", orjson.dumps({**EMBED, "encoding_format": "float"})),
}

SCENARIOS = [
    Scenario(
        "legacy_json",
        "legacy chat JSON",
        "/api/ai/chat/completion",
        orjson.dumps(CHAT),
        KINDS["chat"],
    ),
    Scenario(
        "legacy_stream",
        "legacy chat stream (20 chunks)",
        "/api/ai/chat/completion",
        orjson.dumps({**CHAT, "stream": True}),
        KINDS["stream"],
    ),
    Scenario(
        "v1_json",
        "/api/v1 chat JSON",
        "/api/v1/chat/completions",
        orjson.dumps(CHAT),
        KINDS["chat"],
    ),
    Scenario(
        "v1_stream",
        "/api/v1 chat stream (20 chunks)",
        "/api/v1/chat/completions",
        orjson.dumps({**CHAT, "stream": True}),
        KINDS["stream"],
    ),
    Scenario(
        "embeddings", "legacy embeddings", "/api/ai/embeddings", orjson.dumps(EMBED), KINDS["embed"]
    ),
]


def user_token(secret: str, ttl_s: int = 3600) -> str:
    """An InsForge-shaped session JWT (HS256), as the SDK would send it."""
    now = int(time.time())
    claims = {"sub": "bench-user", "role": "authenticated", "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


BENCH_KID = "bench-kid"


@functools.cache
def _bench_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pair_env() -> dict[str, str]:
    """InsForge's key-pair mode (JWT_PUBLIC_KEY, JWT_KEY_ID) for a key made for the run."""
    public = _bench_key().public_key()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return {"JWT_PUBLIC_KEY": pem, "JWT_KEY_ID": BENCH_KID}


def rs256_token(_secret: str, ttl_s: int = 3600) -> str:
    """`user_token`'s claims signed with the run's key pair, as a backend in that mode signs."""
    now = int(time.time())
    claims = {"sub": "bench-user", "role": "authenticated", "iat": now, "exp": now + ttl_s}
    private = _bench_key().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return jwt.encode(claims, private.decode(), algorithm="RS256", headers={"kid": BENCH_KID})


def long_hs256_token(secret: str, ttl_s: int = 3600) -> str:
    """`user_token` padded to an RS256 token's length: the control that separates what the
    signature's kind costs from what a longer Authorization header costs."""
    now = int(time.time())
    claims = {"sub": "bench-user", "role": "authenticated", "iat": now, "exp": now + ttl_s}
    target = len(rs256_token(secret, ttl_s))
    claims["pad"] = ""
    short = len(jwt.encode(claims, secret, algorithm="HS256"))
    claims["pad"] = "x" * ((target - short) * 3 // 4)
    return jwt.encode(claims, secret, algorithm="HS256")


def headers(bearer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}


@dataclass
class Probe:
    status: int
    events: int  # SSE data events in the body (0 for JSON)
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == 200


def probe(url: str, body: bytes, auth: dict[str, str]) -> Probe:
    """One request, to learn whether the route exists and what one answer looks like."""
    try:
        resp = httpx.post(url, content=body, headers=auth, timeout=30.0)
    except httpx.HTTPError as err:
        return Probe(0, 0, f"{type(err).__name__}: {err}")
    text = resp.text
    events = text.count("\ndata:") + int(text.startswith("data:"))
    if resp.status_code == 200 and "text/event-stream" not in resp.headers.get("content-type", ""):
        events = 0
    return Probe(resp.status_code, events, "" if resp.status_code == 200 else text[:200])
