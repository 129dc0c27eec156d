"""Keys from a JWKS URL (JWT_JWKS_URL): RS256 and ES256 public keys, picked by a token's `kid`.

auth.py asks `JwksKeys.key(kid)` synchronously, so a token whose key is held costs no await.
When only a fetch can tell, `key` raises `FetchNeeded`; auth.py awaits `refresh` and asks again,
this time without fetching (`may_fetch=False`).

- Keys are held for JWT_JWKS_CACHE_TTL_S. An unknown `kid`, or a token arriving after the TTL,
  asks for a fetch. Fetches are single flight: one lock, and a request that waited while
  another fetched takes that fetch's answer instead of fetching again, however many wait.
- One fetch at most per REFETCH_COOLDOWN_S, failed or not, so tokens with made-up kids cannot
  make the gateway hammer the identity provider, and an unreachable URL is not tried again by
  every request.
- When a fetch fails, the keys held keep verifying for STALE_GRACE_S past their TTL (the URL
  briefly unreachable). A token whose key cannot be known (none held, or a kid not held while
  the URL fails) is a 503 (`KeysUnavailableError`), not a 401: it may well be valid, and a 401
  would make the InsForge SDK drop its session.
- Only keys that verify exactly one algorithm are kept: RSA of 2048 bits or more for RS256, EC
  on P-256 for ES256, with `use` (when given) `sig` and `alg` (when given) matching; symmetric
  (`oct`) keys are ignored, so no JWKS entry can become an HMAC secret.
- A key leaving the JWKS verifies no new token after the next fetch; tokens already verified
  with it stay in auth.py's cache until their `exp` at the latest.
- The fetch and its SSRF rules are jwks_fetch.py's.
"""

import asyncio
import base64
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyECKey, CryptographyRSAKey

from app.config import Settings
from app.errors import GatewayError
from app.jwks_fetch import JwksFetcher, JwksFetchError, origin
from app.keypair import MIN_RSA_BITS

log = logging.getLogger("app.auth")

ALGORITHMS = ("RS256", "ES256")
REFETCH_COOLDOWN_S = 5.0
STALE_GRACE_S = 3600.0


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    algorithm: str
    key: Key


class KeysUnavailableError(GatewayError):
    status_code = 503
    code = "AUTH_KEYS_UNAVAILABLE"


def keys_unavailable() -> KeysUnavailableError:
    return KeysUnavailableError(
        "No key is available to verify this token: "
        "the gateway cannot fetch the identity provider's keys (JWKS).",
        next_actions="Retry shortly; the operator can check JWT_JWKS_URL.",
        headers={"Retry-After": str(math.ceil(REFETCH_COOLDOWN_S))},
    )


class FetchNeeded(Exception):  # a signal to fetch first, not a failure: no "Error"
    """Only a fetch can tell the token's key: await `refresh()`, then verify again."""

    def __init__(self, keys: "JwksKeys", seen: int) -> None:
        super().__init__("JWKS fetch needed")
        self.keys = keys
        self.seen = seen

    async def refresh(self) -> None:
        await self.keys.refresh(self.seen)


class JwksKeys:
    """The keys of JWT_JWKS_URL, fetched on demand; one per app (its lifespan closes it)."""

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._fetcher = JwksFetcher(settings, transport)
        # The verified-token cache's scope: what decides whether a token verifies here.
        self.scope = f"JWKS {self._fetcher.url} {settings.jwt_issuer} {settings.jwt_audience}"
        self._ttl = settings.jwt_jwks_cache_ttl_s
        self._keys: dict[str, VerifyingKey] = {}
        self._fetched_at = -math.inf  # monotonic time of the last successful fetch
        self._tried_at = -math.inf  # of the last attempt, successful or not
        self._failing = False  # the last attempt failed
        self._attempts = 0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    def key(self, kid: str, *, may_fetch: bool) -> VerifyingKey | None:
        """The key for `kid`, or None when the keys held (and current) have none.

        Raises FetchNeeded when `may_fetch` and a fetch should come first, and
        KeysUnavailableError when there is nothing to go by.
        """
        now = time.monotonic()
        age = now - self._fetched_at
        held = age < self._ttl + STALE_GRACE_S
        found = self._keys.get(kid) if held else None
        if found is not None and age < self._ttl:
            return found
        if may_fetch and now - self._tried_at >= REFETCH_COOLDOWN_S:
            raise FetchNeeded(self, self._attempts)
        if found is not None:
            return found  # past its TTL, but the URL fails or was just asked: kept a while
        if held and not self._failing:
            return None
        raise keys_unavailable()

    async def refresh(self, seen: int) -> None:
        """Fetch, unless a fetch has finished since the caller looked (attempt `seen`)."""
        async with self._lock:
            if self._attempts == seen:
                await self._fetch()

    async def _fetch(self) -> None:
        url = origin(self._fetcher.url)
        try:
            keys = parse_jwks(await self._fetcher.fetch())
        except (JwksFetchError, ValueError) as err:
            self._failing = True
            held = "keeping the keys held" if self._keys else "no keys to verify with"
            log.warning("JWKS fetch from %s failed: %s; %s", url, err, held)
        else:
            self._keys, self._fetched_at, self._failing = keys, time.monotonic(), False
            log.info("JWKS fetched from %s: %d keys (%s)", url, len(keys), ", ".join(keys))
        # Not reached when the fetching request is cancelled: the next waiter fetches instead.
        self._attempts += 1
        self._tried_at = time.monotonic()


def parse_jwks(document: object) -> dict[str, VerifyingKey]:
    """The usable keys of a JWKS, by kid (the first of a kid wins). ValueError if none."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('not a JWKS (no "keys" list)')
    keys: dict[str, VerifyingKey] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("kid"), str) and entry["kid"]:
            key = verifying_key(entry)
            if key is not None:
                keys.setdefault(entry["kid"], key)
    if not keys:
        raise ValueError("the JWKS holds no usable RS256 or ES256 key with a kid")
    return keys


def verifying_key(jwk: dict[str, Any]) -> VerifyingKey | None:
    """The public key of one JWK for the one algorithm it can verify, or None."""
    kty = jwk.get("kty")
    alg = (
        "RS256" if kty == "RSA" else "ES256" if kty == "EC" and jwk.get("crv") == "P-256" else None
    )
    if alg is None or jwk.get("alg", alg) != alg or jwk.get("use", "sig") != "sig":
        return None
    try:
        if alg == "RS256":
            public = rsa.RSAPublicNumbers(_number(jwk["e"]), _number(jwk["n"])).public_key()
            if public.key_size < MIN_RSA_BITS:
                return None
            return VerifyingKey(alg, CryptographyRSAKey(public, alg))
        point = ec.EllipticCurvePublicNumbers(_number(jwk["x"]), _number(jwk["y"]), ec.SECP256R1())
        return VerifyingKey(alg, CryptographyECKey(point.public_key(), alg))
    except (KeyError, TypeError, ValueError):  # a missing member, or a point off the curve
        return None


def _number(value: object) -> int:
    """A JWK's base64url-encoded unsigned integer."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a base64url number")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")
