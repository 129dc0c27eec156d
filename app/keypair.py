"""InsForge's key-pair mode: the RS256 public key (JWT_PUBLIC_KEY) and its key id (JWT_KEY_ID).

The InsForge backend signs a token with RS256 only when its header says `alg: RS256` and its
`kid` is JWT_KEY_ID; every other token is HS256 with JWT_SECRET (legacy contract §3). The
settings read and check the key once, at start-up (`read_public_key`), and auth.py verifies
with a key prepared once per PEM (`key_pair`), never with a PEM parsed again per token.

Deliberate choices:
- JWT_PUBLIC_KEY is the PEM itself or the path of a file holding it. A PEM kept on one line
  with `\\n` escapes (as some secret stores and .env files keep it) is read as the PEM it spells.
- Only an RSA public key of at least 2048 bits is accepted: RS256 is the mode's one algorithm.
  A private key pasted by mistake is refused, and never echoed in the message.
"""

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyRSAKey

PEM_START = "-----BEGIN"
MIN_RSA_BITS = 2048  # NIST's floor for RSA signatures since 2013


def read_public_key(value: str) -> str:
    """The PEM JWT_PUBLIC_KEY gives, itself or in the file it names, once checked.

    Raises ValueError with a one-line message that reads after the setting's name.
    """
    text = value.strip()
    if text.startswith(PEM_START):
        text = text.replace("\\n", "\n")
    else:
        try:
            text = Path(text).expanduser().read_text(encoding="ascii").strip()
        except (OSError, UnicodeError, ValueError):
            raise ValueError(
                "neither a PEM public key nor the path of a readable file holding one"
            ) from None
        if not text.startswith(PEM_START):
            raise ValueError(f"the file {value.strip()!r} holds no PEM public key")
    rsa_public_key(text)
    return text


def rsa_public_key(pem: str) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM (SPKI or PKCS#1); ValueError for anything else."""
    if "PRIVATE KEY" in pem:
        raise ValueError("this is a private key; set the public key (the gateway only verifies)")
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm):
        raise ValueError("not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key (InsForge's key pair signs RS256)")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"an RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are needed")
    return key


@dataclass(frozen=True, slots=True)
class KeyPair:
    kid: str
    key: Key
    # The verified-token cache's scope for tokens this key verified: per key and kid, so a
    # gateway given another key never takes a token from the cache that this one verified.
    scope: str


@lru_cache(maxsize=8)
def key_pair(pem: str, kid: str) -> KeyPair:
    """The prepared verifying key for a checked PEM (settings hold one, tests a few)."""
    key = CryptographyRSAKey(rsa_public_key(pem), "RS256")
    digest = hashlib.sha256(pem.encode("ascii")).hexdigest()[:32]
    return KeyPair(kid, key, f"RS256 {digest} {kid}")
