"""The one policy every asset URL in a request (image, file and video URLs) goes through.

ASSET_POLICY=inline (default) fetches http(s) assets here and sends OpenRouter a data: URL, so
no caller-chosen URL reaches the upstream; `allowlist` passes URLs of listed hosts unchanged;
`reject` accepts data: URLs only. The SSRF-safe fetch is fetch.py (its network parts network.py).

Deliberate choices:
- The https-only and no-credentials rules apply in allowlist mode too: ASSET_ALLOW_HTTP reads
  as "http asset URLs are acceptable", whoever fetches them.
- `*.example.com` in OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS matches subdomains, not
  `example.com` itself (list both to allow both), as certificate wildcards do.
- A data: URL must have a media type and, when marked base64, valid padded base64; its media
  type is not checked against the kind (that is the model's concern, as the legacy API had it).
- Fetched bytes must sniff as the kind asks (sniff.py): a png/jpeg/gif/webp image, a
  PDF, or an mp4/QuickTime/webm/Matroska video.
- Which URLs of a request are assets, and how many of them are fetched at once and in total,
  is parts.py's concern; `resolve` polices one URL, charging an optional ByteBudget.
- Refusals are logged at INFO with the host and the caller's message, which shows at most
  scheme, host and port: paths and query strings may carry tokens.
"""

import logging
import re

from app.assets.fetch import Fetcher
from app.assets.network import AssetError, AssetKind, ByteBudget, HostResolver, parse_http_url
from app.config import Settings

__all__ = ["AssetError", "AssetKind", "AssetResolver", "ByteBudget"]

logger = logging.getLogger(__name__)

_DATA_URL_HEAD = re.compile(
    r"data:[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+"
    r"(?:;[a-z0-9!#$&^_.+-]+=[a-z0-9!#$&^_.+%-]+)*(?P<b64>;base64)?,",
    re.IGNORECASE,
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_PAYLOAD = re.compile(r"[^\x00-\x20\x7f]+")  # percent-encoded text: no raw spaces or controls
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")


def check_data_url(url: str) -> None:
    head = _DATA_URL_HEAD.match(url)
    start = head.end() if head else len(url)  # payloads run to megabytes: match in place
    if head and head["b64"]:
        # Unpadded base64 passes (the legacy contract forwards `;base64,AAA`); 4n+1 never decodes.
        payload = _BASE64 if (len(url) - start) % 4 != 1 else None
    else:
        payload = _URL_PAYLOAD
    if start == len(url) or payload is None or payload.fullmatch(url, start) is None:
        raise AssetError("Malformed data: URL (expected data:<mime>[;base64],<payload>)")


def host_allowed(host: str, entries: list[str]) -> bool:
    host = host.rstrip(".")
    for entry in entries:
        entry = entry.strip().lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif entry and host == entry:
            return True
    return False


class AssetResolver:
    """Applies ASSET_POLICY to asset URLs; the fetches of `inline` go to its Fetcher."""

    def __init__(self, settings: Settings, *, resolve_host: HostResolver | None = None) -> None:
        self._settings = settings
        self._fetcher = Fetcher(settings, resolve_host)

    async def resolve(self, url: str, kind: AssetKind, budget: ByteBudget | None = None) -> str:
        """The URL to send upstream: unchanged (data:, or allowlisted), or a data: URL of the
        fetched bytes, which are charged to `budget`. Raises AssetError."""
        try:
            return await self._resolve(url, kind, budget)
        except AssetError as err:
            # The message shows at most scheme, host and port; never the path or query.
            logger.info(
                "asset refused: host=%s policy=%s: %s",
                err.host or "-",
                self._settings.asset_policy,
                err.message,
            )
            raise

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    async def _resolve(self, url: str, kind: AssetKind, budget: ByteBudget | None) -> str:
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme == "data":
            check_data_url(url)
            return url
        if scheme not in ("http", "https"):
            shown = f"'{scheme}'" if _SCHEME.fullmatch(scheme) else "of this URL"
            raise AssetError(
                f"Asset URL refused: scheme {shown} is not supported (use https or a data: URL)"
            )
        if self._settings.asset_policy == "reject":
            raise AssetError(
                "Remote asset URLs are not accepted (ASSET_POLICY=reject); "
                "send the content as a data: URL"
            )
        parsed = parse_http_url(url, allow_http=self._settings.asset_allow_http)
        if self._settings.asset_policy == "allowlist":
            host = parsed.raw_host or ""
            if not host_allowed(host, self._settings.openrouter_allowed_remote_asset_hosts):
                raise AssetError(
                    f"Remote asset host '{host}' is not allowed (ASSET_POLICY=allowlist; "
                    "see OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS)",
                    host=host,
                )
            return url
        return await self._fetcher.fetch(parsed, kind, budget)
