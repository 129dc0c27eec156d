"""Key pairs made in the test run, the tokens they sign, and a JWKS of them served from a real
socket: what InsForge's key-pair mode and another identity provider look like to the gateway.

`sign(key, kid)` is the RS256/ES256 counterpart of tests/factories.py `make_token`;
`key_pair_env()` configures a gateway process for the InsForge key pair (the RS256 token of
`insforge_token()` then verifies on it), and `key_pair_settings()` an in-process one.
"""

import base64
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyECKey, CryptographyRSAKey

from app.config import Settings
from tests.factories import make_settings

KEY_ID = "insforge-test-kid"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


_KEYS: dict[tuple[str, str], PrivateKey] = {}


def rsa_key(name: str = "insforge", bits: int = 2048) -> rsa.RSAPrivateKey:
    """The RSA key of that name, made once per run (making one takes tens of milliseconds)."""
    key = _KEYS.get((name, f"RSA-{bits}"))
    if key is None:
        key = _KEYS[(name, f"RSA-{bits}")] = rsa.generate_private_key(65537, bits)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ec_key(name: str = "idp", curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    """The EC key of that name, on P-256 (ES256) or P-384."""
    key = _KEYS.get((name, curve))
    if key is None:
        made = ec.SECP384R1() if curve == "P-384" else ec.SECP256R1()
        key = _KEYS[(name, curve)] = ec.generate_private_key(made)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def private_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(
    key: PrivateKey,
    kid: str | None,
    *,
    sub: str | None = "user-1",
    role: str | None = "authenticated",
    expires_in: float | None = 900,
    algorithm: str | None = None,
    **claims: Any,
) -> str:
    """A token signed with `key` (RS256 for RSA, ES256 for EC unless `algorithm` says), with a
    `jti` of its own so no two tokens of a run are the same string (the verified-token cache
    is keyed by the token)."""
    payload: dict[str, Any] = {"jti": uuid.uuid4().hex, **claims}
    if sub is not None:
        payload["sub"] = sub
    if role is not None:
        payload["role"] = role
    if expires_in is not None:
        payload["exp"] = int(time.time() + expires_in)
    alg = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
    headers = {} if kid is None else {"kid": kid}
    # The key object itself: a PEM would be parsed (and the key checked) again per token.
    signer: Key = (
        CryptographyRSAKey(key, alg)
        if isinstance(key, rsa.RSAPrivateKey)
        else CryptographyECKey(key, alg)
    )
    return jwt.encode(payload, signer, algorithm=alg, headers=headers)


def insforge_token(sub: str | None = "user-1", **options: Any) -> str:
    """An access token as an InsForge backend in key-pair mode issues it."""
    return sign(rsa_key(), KEY_ID, sub=sub, **options)


def forge(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token with any header, HMAC-SHA256-signed with `hmac_key` (None: no signature, as
    `alg: none` has it). python-jose refuses to sign with a PEM as an HMAC secret; attackers
    do not."""
    payload = {"sub": "attacker", "role": "project_admin", "exp": int(time.time()) + 900}
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps({**payload, **claims}))}"
    if hmac_key is None:
        return signing_input + "."
    digest = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_number(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def jwk(key: PrivateKey, kid: str, **members: Any) -> dict[str, Any]:
    """The public JWK of `key`, with `use` and `alg` as identity providers publish them."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        found = {"kty": "RSA", "n": _b64_number(numbers.n), "e": _b64_number(numbers.e)}
        alg = "RS256"
    else:
        point = key.public_key().public_numbers()
        size = (key.curve.key_size + 7) // 8
        found = {
            "kty": "EC",
            "crv": "P-384" if key.curve.key_size == 384 else "P-256",
            "x": _b64(point.x.to_bytes(size, "big")),
            "y": _b64(point.y.to_bytes(size, "big")),
        }
        alg = "ES384" if key.curve.key_size == 384 else "ES256"
    return {**found, "kid": kid, "use": "sig", "alg": alg, **members}


@lru_cache
def key_pair_env() -> dict[str, str]:
    """A gateway process's environment for the InsForge key pair of `insforge_token()`."""
    return {"JWT_PUBLIC_KEY": public_pem(rsa_key()), "JWT_KEY_ID": KEY_ID}


def key_pair_settings(**overrides: Any) -> Settings:
    return make_settings(jwt_public_key=public_pem(rsa_key()), jwt_key_id=KEY_ID, **overrides)


class JwksServer:
    """A JWKS on 127.0.0.1 (a real socket, a thread of its own). `document` is what it serves
    at JWKS_PATH, `status` its answer's status, `delay_s` how long each answer takes, and
    `fetches` how many GETs of the JWKS it has had; `redirect_to` answers JWKS_PATH with a 302
    there instead. `/moved` redirects to JWKS_PATH on this same server; DIRECT_PATH serves the
    document whatever `redirect_to` says (a redirect's target), counted in `fetches` too."""

    JWKS_PATH = "/.well-known/jwks.json"
    DIRECT_PATH = "/direct/jwks.json"

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.delay_s = 0.0
        self.redirect_to: str | None = None
        self.fetches = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{self.JWKS_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/moved":
                    self._answer(302, b"", {"Location": server.JWKS_PATH})
                    return
                if self.path not in (server.JWKS_PATH, server.DIRECT_PATH):
                    self._answer(404, b"{}", {})
                    return
                with server._lock:
                    server.fetches += 1
                time.sleep(server.delay_s)
                if server.redirect_to is not None and self.path == server.JWKS_PATH:
                    self._answer(302, b"", {"Location": server.redirect_to})
                    return
                self._answer(server.status, orjson.dumps(server.document), {})

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                """Quiet."""

        return Handler

    def stop(self) -> None:
        """Stop answering and close the port: the URL is then unreachable."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def jwks_server(*keys: tuple[PrivateKey, str]) -> Iterator[JwksServer]:
    server = JwksServer({"keys": [jwk(key, kid) for key, kid in keys]})
    try:
        yield server
    finally:
        if server._thread.is_alive():
            server.stop()
