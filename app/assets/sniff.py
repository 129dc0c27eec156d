"""What fetched asset bytes are: magic numbers decide, a declared Content-Type may only agree.

Split from assets.py to keep each module one concern (and under the house size). The rules:
- Kind "image" takes png, jpeg, gif and webp; "file" takes PDF; "video" takes mp4 and
  QuickTime (an ISO-BMFF `ftyp` box at offset 4) and webm and Matroska (the EBML magic).
- A missing or generic (`application/octet-stream`) Content-Type counts as undeclared; any
  other that names a different type than the bytes is refused. The data: URL uses the
  sniffed type.
"""

from app.assets.network import AssetError, AssetKind

KIND_TYPES: dict[AssetKind, tuple[str, ...]] = {
    "image": ("image/png", "image/jpeg", "image/gif", "image/webp"),
    "file": ("application/pdf",),
    "video": ("video/mp4", "video/quicktime", "video/webm", "video/x-matroska"),
}
ACCEPT: dict[AssetKind, str] = {kind: ",".join(types) for kind, types in KIND_TYPES.items()}
_NOT_KIND: dict[AssetKind, str] = {
    "image": "Remote asset refused: content is not a png, jpeg, gif or webp image",
    "file": "Remote asset refused: content is not a PDF",
    "video": "Remote asset refused: content is not an mp4, QuickTime, webm or Matroska video",
}
_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "video/matroska": "video/x-matroska",
}
_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_HEAD_BYTES = 64  # the EBML header, which names the DocType, comes first and is short


def sniff(body: bytes) -> str | None:
    """The media type the leading bytes (magic numbers) show, if it is one we accept."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if body.startswith(b"RIFF") and body[8:12] == b"WEBP":
        return "image/webp"
    if body.startswith(b"%PDF-"):
        return "application/pdf"
    if body[4:8] == b"ftyp":
        return "video/quicktime" if body[8:12] == b"qt  " else "video/mp4"
    if body.startswith(_EBML_MAGIC):
        return "video/webm" if b"webm" in body[:_EBML_HEAD_BYTES] else "video/x-matroska"
    return None


def sniffed_mime(body: bytes, kind: AssetKind, declared: str | None, host: str | None) -> str:
    """The sniffed type, if it suits the kind and does not contradict the declared type."""
    mime = sniff(body)
    if mime is None or mime not in KIND_TYPES[kind]:
        raise AssetError(_NOT_KIND[kind], host=host)
    declared_type = (declared or "").partition(";")[0].strip().lower()
    if _TYPE_ALIASES.get(declared_type, declared_type) not in (_UNDECLARED | {mime}):
        raise AssetError(
            f"Remote asset refused: the declared Content-Type does not match the content ({mime})",
            host=host,
        )
    return mime
