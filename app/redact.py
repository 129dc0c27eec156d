"""Scrub a secret (the OpenRouter key) from upstream text, before anything shows or cuts it.

Redact first, cut second: a cut taken first can end inside the key, and the part left no longer
matches the whole key, so it leaks. Forms covered: plain, percent-encoded (upper or lower hex, `+`
or `%20` for a space) and JSON-escaped, since an upstream may echo a request URL or a JSON body.
An OpenRouter key (`sk-or-v1-` + hex) reads the same in all of them.
"""

import json
import re
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)


def _forms(secret: str) -> list[str]:
    percent = quote(secret, safe="")
    forms = {
        secret,
        percent,
        _lower_hex(percent),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return sorted(forms, key=len, reverse=True)  # longest first, so no form is half-replaced


def redact_secret(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret`, in any covered form, replaced by `[redacted]`."""
    if not secret or not text:
        return text
    return re.sub("|".join(map(re.escape, _forms(secret))), REDACTED, text)
