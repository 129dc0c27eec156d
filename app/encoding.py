"""Embedding vectors as base64: what OpenAI's `encoding_format: "base64"` means, for both surfaces
(OpenRouter has answered base64 requests with no data, so vectors are fetched as floats and
encoded here)."""

import base64
import sys
from array import array


def float32_base64(values: list[float]) -> str:
    """Little-endian float32s, base64-encoded, as OpenAI's API sends them."""
    packed = array("f", values)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()
