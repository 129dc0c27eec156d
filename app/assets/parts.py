"""Which strings of a chat request are asset URLs, and resolving them within per-request bounds.

Every message whose `content` is a list of parts (or a dict: one part) is walked, and so is an
assistant message's `images` list (generated images sent back as history). Part types
are matched exactly (case-sensitive), as OpenRouter documents them:
- `image_url`: `image_url.url`, or `image_url` as a bare string (kind image);
- `file`: `file.file_data`, `file.file_url`, `file.url` (kind file);
- `video_url` and `input_video`: `video_url.url`, or `video_url` as a bare string (kind video);
- `input_audio`: `input_audio.data` is raw base64, and a URL there is refused;
- `text`: its `text` is the prompt, never read as a URL.
Each URL field goes through the asset policy (AssetResolver.resolve) and is replaced in place,
in the same shape. Any other string in a part that looks like a URL refuses the request, so an
unknown type, a differently cased type, a part with no type or an unexpected field cannot carry
a URL past the policy (it would otherwise reach OpenRouter unchanged).

Deliberate choices:
- "Looks like a URL" reads the start of a string as a WHATWG URL parser would: leading C0
  controls and spaces skipped, tabs and newlines ignored. Then a scheme followed by two slashes
  (or backslashes), a special scheme (http, https, ws, wss, ftp, file) even without them,
  `data:`, or a leading `//`. Dict keys are read as well as values.
- `input_audio.data` holding a string that begins with any `scheme:` or `//` is a URL, unless
  it is made of base64 characters only: base64 audio may itself begin with `//` (an MP3 frame).
  Other malformed audio data is the model's concern, as a data: URL's media type is.
- ASSET_MAX_PARTS counts the URLs found (data: URLs included) before anything is fetched.
  ASSET_MAX_TOTAL_BYTES counts bytes fetched here; the caller's own data: URLs are already
  bounded by MAX_REQUEST_BYTES.
- Resolving runs at most ASSET_FETCH_CONCURRENCY URLs at once, in a TaskGroup: the first refusal
  cancels the fetches in flight and those still waiting. The body is changed only once every
  URL is resolved.
- Messages name the message and part by position, the part's type only when it is a short
  identifier, and never the URL: its path or query may carry a token.
"""

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from app.assets.network import AssetError, AssetKind, ByteBudget
from app.config import Settings
from app.json_shape import Json

logger = logging.getLogger(__name__)


class AssetResolving(Protocol):
    async def resolve(self, url: str, kind: AssetKind, budget: ByteBudget | None = None) -> str: ...


# part type -> (the field holding the URL object or bare URL, URL keys inside it, kind)
_URL_PARTS: dict[str, tuple[str, tuple[str, ...], AssetKind]] = {
    "image_url": ("image_url", ("url",), "image"),
    "file": ("file", ("file_data", "file_url", "url"), "file"),
    "video_url": ("video_url", ("url",), "video"),
    "input_video": ("video_url", ("url",), "video"),
}
_ACCEPTED_PARTS = "image_url, file, video_url or input_video parts"

_NOT_C0_OR_SPACE = re.compile(r"[^\x00-\x20]")  # what a URL parser strips from the start
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_URL_HEAD = re.compile(r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):)?(?P<slashes>[/\\]{2})?")
_URL_HEAD_CHARS = 64  # longer than any scheme we care about, plus the two slashes
_SCAN_CHUNK_CHARS = 4096  # read past runs of tabs and newlines a chunk at a time
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file", "data"})
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\s]*")
_TYPE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@dataclass(frozen=True)
class AssetRef:
    """One URL found in the messages: `holder[key]` is where it is and where its result goes."""

    holder: Json
    key: str
    url: str
    kind: AssetKind


def _url_head(value: str) -> tuple[str | None, bool]:
    """The scheme (lower-cased) and whether two slashes follow, as a URL parser would read
    the start of `value`."""
    first = _NOT_C0_OR_SPACE.search(value)
    if first is None:
        return None, False
    start, head = first.start(), ""
    while len(head) < _URL_HEAD_CHARS and start < len(value):
        head += value[start : start + _SCAN_CHUNK_CHARS].translate(_TAB_NEWLINE)
        start += _SCAN_CHUNK_CHARS
    match = _URL_HEAD.match(head)
    if match is None:
        return None, False
    scheme = match["scheme"]
    return (scheme.lower() if scheme else None), match["slashes"] is not None


def looks_like_url(value: str) -> bool:
    scheme, slashes = _url_head(value)
    return slashes or scheme in _SPECIAL_SCHEMES


def _describe(part: Any, where: str) -> str:
    if not isinstance(part, dict):
        return f"{where} (not an object)"
    if "type" not in part:
        return f"{where} (a part with no type)"
    kind = part["type"]
    return (
        f"{where} (type '{kind}')"
        if isinstance(kind, str) and _TYPE_NAME.fullmatch(kind)
        else where
    )


def _refuse_stray_urls(value: Any, part: Any, where: str) -> None:
    """Refuse if any string in `value` (keys included) looks like a URL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if looks_like_url(item):
                raise AssetError(
                    f"Asset refused: {_describe(part, where)} carries a URL in a field the asset "
                    f"policy does not check; send URLs only in {_ACCEPTED_PARTS} "
                    "(type names are lower-case)"
                )
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_audio(value: Any, part: Json, where: str) -> None:
    if not isinstance(value, dict):
        _refuse_stray_urls(value, part, where)
        return
    for key, item in value.items():
        if key != "data" or not isinstance(item, str):
            _refuse_stray_urls([key, item], part, where)
            continue
        scheme, slashes = _url_head(item)
        if (scheme or slashes) and not _BASE64_TEXT.fullmatch(item):
            raise AssetError(
                f"Asset refused: {where} is input_audio, whose data must be raw base64 audio, "
                "not a URL; send the audio itself"
            )


def _url_field(value: Any, part: Json, field: str, where: str) -> list[AssetRef]:
    _, keys, kind = _URL_PARTS[part["type"]]
    if isinstance(value, str):
        return [AssetRef(part, field, value, kind)]
    if not isinstance(value, dict):
        _refuse_stray_urls(value, part, where)
        return []
    refs = []
    for key, item in value.items():
        if key in keys and isinstance(item, str):
            refs.append(AssetRef(value, key, item, kind))
        else:
            _refuse_stray_urls([key, item], part, where)
    return refs


def _part_assets(part: Any, where: str) -> list[AssetRef]:
    if not isinstance(part, dict):
        _refuse_stray_urls(part, part, where)
        return []
    kind = part.get("type")
    url_field = _URL_PARTS[kind][0] if isinstance(kind, str) and kind in _URL_PARTS else None
    refs: list[AssetRef] = []
    for key, value in part.items():
        if key == url_field:
            refs.extend(_url_field(value, part, key, where))
        elif kind == "input_audio" and key == "input_audio":
            _check_audio(value, part, where)
        elif not (kind == "text" and key == "text" and isinstance(value, str)):
            _refuse_stray_urls([key, value], part, where)
    return refs


def find_assets(messages: list[Any]) -> list[AssetRef]:
    """Every asset URL in the messages; raises AssetError for a URL anywhere else in a part."""
    refs: list[AssetRef] = []
    for m, message in enumerate(messages, start=1):
        content = message.get("content") if isinstance(message, dict) else None
        parts = [content] if isinstance(content, dict) else content
        for p, part in enumerate(parts if isinstance(parts, list) else (), start=1):
            refs.extend(_part_assets(part, f"message {m}, part {p}"))
        # An assistant turn's generated images, sent back as history: parts of the same shape.
        images = message.get("images") if isinstance(message, dict) else None
        for i, part in enumerate(images if isinstance(images, list) else (), start=1):
            refs.extend(_part_assets(part, f"message {m}, image {i}"))
    return refs


async def resolve_parts(messages: list[Any], assets: AssetResolving, settings: Settings) -> None:
    """Resolve every asset URL in the messages in place, within the per-request bounds."""
    try:
        refs = find_assets(messages)
        if len(refs) > settings.asset_max_parts:
            raise AssetError(
                f"Too many assets in one request: {len(refs)} (this gateway allows "
                f"{settings.asset_max_parts}, ASSET_MAX_PARTS)"
            )
    except AssetError as err:
        logger.info("asset refused: %s", err.message)
        raise
    if not refs:
        return
    budget = ByteBudget(settings.asset_max_total_bytes)
    slots = asyncio.Semaphore(settings.asset_fetch_concurrency)

    async def resolve(ref: AssetRef) -> str:
        await slots.acquire()
        url = await assets.resolve(ref.url, ref.kind, budget)
        # Released on success only: a refusal keeps its slot, so no waiting fetch starts in the
        # moment before the group cancels them all.
        slots.release()
        return url

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(resolve(ref)) for ref in refs]
    except* AssetError as refused:
        raise refused.exceptions[0] from None
    for ref, task in zip(refs, tasks, strict=True):
        ref.holder[ref.key] = task.result()
