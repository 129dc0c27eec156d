"""Pure translation between the legacy InsForge schema and OpenRouter's API (no I/O).

Every rule here is the legacy backend's (tests/test_translate.py pins each), including its
JavaScript semantics: `temperature ?? 0.7` keeps 0, `maxResults` only when truthy, `content || ''`.
Dict insertion order is wire order, because the legacy API serialised with `JSON.stringify`.
"""

from typing import Any

import orjson

from app.errors import InvalidInputError
from app.json_shape import Json
from app.legacy.js import js_value
from app.legacy.schemas import ChatCompletionRequest, ChatMessage, FileParser, WebSearch, dump

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 4096
THINKING_SUFFIX = ":thinking"


def build_model_id(model: str, thinking: bool | None) -> str:
    if thinking is True and not model.endswith(THINKING_SUFFIX):
        return model + THINKING_SUFFIX
    return model


def build_plugins(web: WebSearch | None, parser: FileParser | None) -> list[Json] | None:
    plugins: list[Json] = []
    if web is not None and web.enabled:
        plugin: Json = {"id": "web"}
        if web.engine:
            plugin["engine"] = web.engine
        if web.max_results:
            plugin["max_results"] = js_value(web.max_results)
        if web.search_prompt:
            plugin["search_prompt"] = web.search_prompt
        plugins.append(plugin)
    if parser is not None and parser.enabled:
        plugin = {"id": "file-parser"}
        if parser.pdf is not None and parser.pdf.engine:
            plugin["pdf"] = {"engine": parser.pdf.engine}
        plugins.append(plugin)
    return plugins or None


def format_message(message: ChatMessage) -> Json:
    data = dump(message)
    content = data.get("content")
    if message.role == "tool":
        if message.tool_call_id is None:
            raise InvalidInputError("Tool message is missing required tool_call_id")
        text = content if isinstance(content, str) else orjson.dumps(content).decode()
        return {"role": "tool", "content": text, "tool_call_id": message.tool_call_id}
    if message.role == "assistant" and data.get("tool_calls"):
        return {"role": "assistant", "content": content, "tool_calls": data["tool_calls"]}
    if data.get("images") and isinstance(content, str):
        parts: list[Json] = [{"type": "text", "text": content}]
        parts.extend({"type": "image_url", "image_url": {"url": i["url"]}} for i in data["images"])
        return {"role": message.role, "content": parts}
    if "content" not in data:
        return {"role": message.role}
    return {"role": message.role, "content": content}


def to_upstream_chat(request: ChatCompletionRequest, *, max_tokens_cap: int) -> Json:
    """The OpenRouter chat body, keys in the legacy order."""
    body: Json = {
        "model": build_model_id(request.model, request.thinking),
        "messages": [format_message(m) for m in request.messages],
        "temperature": js_value(
            DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
        ),
        "max_tokens": request.max_tokens or min(DEFAULT_MAX_TOKENS, max_tokens_cap),
    }
    if request.top_p is not None:
        body["top_p"] = js_value(request.top_p)
    body["stream"] = request.stream is True
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    plugins = build_plugins(request.web_search, request.file_parser)
    if plugins is not None:
        body["plugins"] = plugins
    data = dump(request)
    for source, target in (
        ("tools", "tools"),
        ("toolChoice", "tool_choice"),
        ("parallelToolCalls", "parallel_tool_calls"),
    ):
        if source in data:
            body[target] = data[source]
    return body


def map_tool_calls(calls: Any) -> list[Json]:
    if not isinstance(calls, list):
        return []
    return [
        {
            "id": call.get("id"),
            "type": "function",
            "function": {
                "name": (call.get("function") or {}).get("name"),
                "arguments": (call.get("function") or {}).get("arguments"),
            },
        }
        for call in calls
        if isinstance(call, dict) and call.get("type") == "function"
    ]


_CITATION_KEYS = (
    ("url", "url"),
    ("title", "title"),
    ("content", "content"),
    ("start_index", "startIndex"),
    ("end_index", "endIndex"),
)
_USAGE_KEYS = (
    ("prompt_tokens", "promptTokens"),
    ("completion_tokens", "completionTokens"),
    ("total_tokens", "totalTokens"),
)


def _rename(source: Json, pairs: tuple[tuple[str, str], ...]) -> Json:
    # A missing member is `undefined` in JS and JSON.stringify drops it; null stays null.
    return {camel: source[snake] for snake, camel in pairs if snake in source}


def map_annotations(annotations: Any) -> list[Json]:
    if not isinstance(annotations, list):
        return []
    return [
        {
            "type": "url_citation",
            "urlCitation": _rename(item.get("url_citation") or {}, _CITATION_KEYS),
        }
        for item in annotations
        if isinstance(item, dict) and item.get("type") == "url_citation"
    ]


def map_usage(usage: Any) -> Json | None:
    return _rename(usage, _USAGE_KEYS) if isinstance(usage, dict) else None


def from_upstream_chat(body: Json, model_id: str) -> Json:
    """The legacy JSON answer: text, tool_calls?, annotations?, metadata{model, usage?}."""
    message = body["choices"][0].get("message") or {}
    result: Json = {"text": message.get("content") or ""}
    tool_calls = map_tool_calls(message.get("tool_calls"))
    if tool_calls:
        result["tool_calls"] = tool_calls
    annotations = map_annotations(message.get("annotations"))
    if annotations:
        result["annotations"] = annotations
    metadata: Json = {"model": model_id}
    usage = map_usage(body.get("usage"))
    if usage is not None:
        metadata["usage"] = usage
    result["metadata"] = metadata
    return result
