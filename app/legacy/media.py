"""Pure translation for the legacy image-generation and embeddings routes (their bytes pinned
by tests/routers/test_media.py).

Embeddings are always asked of the upstream as floats: OpenRouter has answered base64 requests
with an empty `data`. When the caller asked for base64 the gateway encodes the vector itself,
as OpenAI does (little-endian float32). Float vectors are written with JavaScript's number
format, so bytes match what the legacy backend's JSON.stringify produced.
"""

from typing import Any

import orjson

from app.encoding import float32_base64
from app.json_shape import Json
from app.legacy.js import js_float_array
from app.legacy.schemas import EmbeddingsRequest, ImageGenerationRequest
from app.legacy.translate import map_usage


def to_upstream_image(request: ImageGenerationRequest) -> Json:
    content: str | list[Json] = request.prompt
    if request.images:
        content = [{"type": "text", "text": request.prompt}]
        content.extend({"type": "image_url", "image_url": {"url": i.url}} for i in request.images)
    return {
        "model": request.model,
        "messages": [{"role": "user", "content": content}],
        "stream": False,
        "modalities": ["text", "image"],
    }


def from_upstream_image(answer: Json, model: str) -> Json:
    """`images, metadata, text`: every choice's images, the last non-empty text."""
    images: list[Json] = []
    text: Any = None
    for choice in answer.get("choices") or []:
        message = (choice or {}).get("message") or {}
        if message.get("content"):
            text = message["content"]
        for image in message.get("images") or []:
            if isinstance(image, dict) and image.get("type") == "image_url":
                url = (image.get("image_url") or {}).get("url")
                images.append({"type": "imageUrl", "imageUrl": url})
    metadata: Json = {"model": model}
    usage = answer.get("usage")
    if isinstance(usage, dict):
        metadata["usage"] = {
            "promptTokens": usage.get("prompt_tokens") or 0,
            "completionTokens": usage.get("completion_tokens") or 0,
            "totalTokens": usage.get("total_tokens") or 0,
        }
    result: Json = {"images": images, "metadata": metadata}
    if text is not None:
        result["text"] = text
    return result


def to_upstream_embeddings(request: EmbeddingsRequest) -> Json:
    body: Json = {"model": request.model, "input": request.input, "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions  # an int, unless past 64 bits
    return body


def from_upstream_embeddings(answer: Json, encoding: str | None) -> Json:
    """The legacy list; raises ValueError when the upstream sent no vectors."""
    data = answer.get("data")
    if not isinstance(data, list) or not data:
        raise ValueError("no embeddings")
    items: list[Json] = []
    for position, item in enumerate(data):
        vector = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(vector, list):
            raise ValueError("embedding is not a list of floats")
        embedding: object = (
            float32_base64(vector)
            if encoding == "base64"
            else orjson.Fragment(js_float_array(vector))
        )
        index = item.get("index", position)
        items.append({"object": "embedding", "embedding": embedding, "index": index})
    metadata: Json = {"model": answer.get("model")}
    usage = map_usage(answer.get("usage"))
    if usage is not None:
        usage.pop("completionTokens", None)
        metadata["usage"] = usage
    return {"object": "list", "data": items, "metadata": metadata}
