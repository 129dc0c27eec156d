"""Every URL a message part can carry is policed, and one request's fetches are bounded.

`resolve_assets` is driven in-process with a real AssetResolver against a local asset server
(reachable because 127.0.0.1 is a trusted network). The server counts requests, the most it
served at once, and hang-ups of its never-ending asset, so "nothing was fetched", "never more
than N at once" and "the other fetches were cancelled" are observed, not assumed.
"""

import asyncio
import base64
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.assets.parts import looks_like_url
from app.assets.resolver import AssetResolver
from app.config import Settings
from app.policy import PolicyError, resolve_assets
from tests.factories import make_settings

PNG_HEAD = b"\x89PNG\r\n\x1a\n"
PDF = b"%PDF-1.4\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 16
DATA_PNG = "data:image/png;base64,iVBORw0KGgo="
DATA_PDF = "data:application/pdf;base64,JVBERi0xLjQK"
METADATA = "https://169.254.169.254/latest/meta-data/?token=s3cret"
FETCH_TIMEOUT_S = 5.0


def data_url(mime: str, body: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(body).decode()}"


def png(size: int) -> bytes:
    return PNG_HEAD + b"\x00" * (size - len(PNG_HEAD))


def user(*parts: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


@dataclass
class AssetServer:
    port: int
    paths: list[str] = field(default_factory=list)  # every request, in order
    in_flight: int = 0
    most_in_flight: int = 0
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)  # the client left /hang
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _asset_app(stats: AssetServer) -> web.Application:
    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        stats.paths.append(request.path_qs)
        stats.in_flight += 1
        stats.most_in_flight = max(stats.most_in_flight, stats.in_flight)
        try:
            await asyncio.sleep(float(request.query.get("delay", "0")))
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            stats.in_flight -= 1

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=png(int(request.match_info["size"])), content_type="image/png")

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            await resp.write(png(int(request.match_info["size"])))
            await resp.write_eof()
        except ConnectionError:
            pass  # the fetcher hung up at its budget, as it should
        return resp

    async def hang(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        await resp.prepare(request)
        try:
            await resp.write(PNG_HEAD)
            while not stats.release.is_set():
                await resp.write(b"\x00")
                await asyncio.sleep(0.02)
        except (ConnectionError, asyncio.CancelledError):
            stats.hung_up.set()  # aiohttp cancels the handler of a connection that was lost
            raise
        return resp

    def fixed(body: bytes, content_type: str) -> Any:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type)

        return handler

    app = web.Application(middlewares=[count])
    app.router.add_get("/png/{size}", sized)
    app.router.add_get("/chunked/{size}", chunked)
    app.router.add_get("/hang", hang)
    app.router.add_get("/page", fixed(b"<html></html>", "text/html"))
    app.router.add_get("/doc.pdf", fixed(PDF, "application/pdf"))
    app.router.add_get("/clip.mp4", fixed(MP4, "video/mp4"))
    return app


@pytest.fixture
async def server() -> AsyncIterator[AssetServer]:
    stats = AssetServer(port=0)
    test_server = TestServer(_asset_app(stats), host="127.0.0.1")
    await test_server.start_server()
    assert test_server.port is not None
    stats.port = test_server.port
    yield stats
    stats.release.set()
    await test_server.close()


Policy = Callable[..., tuple[AssetResolver, Settings]]


@pytest.fixture
async def policy() -> AsyncIterator[Policy]:
    """Settings plus a resolver for them; local fetches allowed unless overridden."""
    made: list[AssetResolver] = []

    def factory(**overrides: Any) -> tuple[AssetResolver, Settings]:
        values: dict[str, Any] = {
            "asset_allow_http": True,
            "asset_trusted_networks": ["127.0.0.1/32"],
            "asset_fetch_timeout_s": FETCH_TIMEOUT_S,
            **overrides,
        }
        settings = make_settings(**values)
        made.append(AssetResolver(settings))
        return made[-1], settings

    yield factory
    for resolver in made:
        await resolver.aclose()


async def refusal(messages: list[Any], resolver: AssetResolver, settings: Settings) -> str:
    with pytest.raises(PolicyError) as caught:
        await resolve_assets(messages, resolver, settings)
    assert caught.value.rule == "asset"
    return caught.value.message


# --- item 7: a bounded number of parts, bytes and concurrent fetches ---


async def test_too_many_parts_refused_before_any_fetch(server: AssetServer, policy: Policy) -> None:
    resolver, settings = policy()
    parts = [{"type": "image_url", "image_url": {"url": server.url("/png/64")}}] * 60
    message = await refusal(user(*parts), resolver, settings)
    assert message == (
        "Too many assets in one request: 60 (this gateway allows 16, ASSET_MAX_PARTS)"
    )
    assert server.paths == []


async def test_data_urls_count_as_parts(server: AssetServer, policy: Policy) -> None:
    resolver, settings = policy(asset_max_parts=3)
    parts = [{"type": "image_url", "image_url": {"url": DATA_PNG}}] * 3
    parts.append({"type": "video_url", "video_url": server.url("/clip.mp4")})
    message = await refusal(user(*parts), resolver, settings)
    assert "4 (this gateway allows 3, ASSET_MAX_PARTS)" in message
    assert server.paths == []


async def test_parts_and_bytes_up_to_the_caps_are_inlined(
    server: AssetServer, policy: Policy
) -> None:
    resolver, settings = policy()  # defaults: 16 parts, 32 MiB in total
    size = 2_000_000  # 16 x 2 MB = 32 MB, just under 32 MiB
    parts = [{"type": "image_url", "image_url": {"url": server.url(f"/png/{size}")}}] * 16
    messages = user(*copy.deepcopy(parts))
    await resolve_assets(messages, resolver, settings)
    expected = data_url("image/png", png(size))
    assert [p["image_url"]["url"] for p in messages[0]["content"]] == [expected] * 16
    assert len(server.paths) == 16


@pytest.mark.parametrize("route", ["png", "chunked"])  # Content-Length known, or not
async def test_total_over_the_cap_is_refused_and_other_fetches_cancelled(
    server: AssetServer, policy: Policy, route: str
) -> None:
    resolver, settings = policy(asset_max_total_bytes=64 * 1024, asset_fetch_concurrency=2)
    urls = [server.url("/hang"), server.url(f"/{route}/100000")]
    urls += [server.url(f"/png/1000?n={i}") for i in range(4)]
    messages = user(*({"type": "image_url", "image_url": {"url": url}} for url in urls))
    original = copy.deepcopy(messages)
    started = time.monotonic()

    message = await refusal(messages, resolver, settings)

    assert message == (
        "Remote assets too large in total (limit 65536 bytes per request, ASSET_MAX_TOTAL_BYTES)"
    )
    assert time.monotonic() - started < FETCH_TIMEOUT_S / 2  # not waiting on /hang
    await asyncio.wait_for(server.hung_up.wait(), 2.0)  # the fetch in flight was cancelled
    assert sorted(server.paths) == sorted(["/hang", f"/{route}/100000"])  # no other started
    assert messages == original  # nothing half-resolved


async def test_first_refusal_cancels_fetches_in_flight(server: AssetServer, policy: Policy) -> None:
    resolver, settings = policy()
    parts = [
        {"type": "image_url", "image_url": {"url": server.url("/hang")}},
        {"type": "image_url", "image_url": {"url": server.url("/page?delay=0.1")}},
    ]
    message = await refusal(user(*parts), resolver, settings)
    assert "content is not a png, jpeg, gif or webp image" in message
    await asyncio.wait_for(server.hung_up.wait(), 2.0)


async def test_fetches_never_exceed_the_concurrency(server: AssetServer, policy: Policy) -> None:
    resolver, settings = policy(asset_fetch_concurrency=3)
    urls = [server.url(f"/png/100?delay=0.1&n={i}") for i in range(8)]
    messages = user(*({"type": "image_url", "image_url": url} for url in urls))
    await resolve_assets(messages, resolver, settings)
    assert server.most_in_flight == 3
    assert [p["image_url"] for p in messages[0]["content"]] == [data_url("image/png", png(100))] * 8


# --- item 8: every part that can carry a URL goes through the asset policy ---

# (id, kind's asset path, part holding `u`, where the URL sits in that part)
Shape = tuple[str, str, Callable[[str], Any], Callable[[Any], Any]]
SHAPES: list[Shape] = [
    ("image_url", "/png/100", lambda u: {"type": "image_url", "image_url": {"url": u}},
     lambda p: p["image_url"]["url"]),
    ("image_url string", "/png/100", lambda u: {"type": "image_url", "image_url": u},
     lambda p: p["image_url"]),
    ("file_data", "/doc.pdf", lambda u: {"type": "file", "file": {"file_data": u, "filename": "a"}},
     lambda p: p["file"]["file_data"]),
    ("file_url", "/doc.pdf", lambda u: {"type": "file", "file": {"file_url": u}},
     lambda p: p["file"]["file_url"]),
    ("file url", "/doc.pdf", lambda u: {"type": "file", "file": {"url": u}},
     lambda p: p["file"]["url"]),
    ("video_url", "/clip.mp4", lambda u: {"type": "video_url", "video_url": {"url": u}},
     lambda p: p["video_url"]["url"]),
    ("video_url string", "/clip.mp4", lambda u: {"type": "video_url", "video_url": u},
     lambda p: p["video_url"]),
    ("input_video", "/clip.mp4", lambda u: {"type": "input_video", "video_url": {"url": u}},
     lambda p: p["video_url"]["url"]),
    ("input_video string", "/clip.mp4", lambda u: {"type": "input_video", "video_url": u},
     lambda p: p["video_url"]),
]  # fmt: skip
SHAPE_IDS = [shape[0] for shape in SHAPES]
INLINED = {
    "/png/100": data_url("image/png", png(100)),
    "/doc.pdf": data_url("application/pdf", PDF),
    "/clip.mp4": data_url("video/mp4", MP4),
}


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict content"])
async def test_each_shape_is_fetched_and_replaced_in_place(
    server: AssetServer, policy: Policy, shape: Shape, as_dict: bool
) -> None:
    _, path, make, locate = shape
    resolver, settings = policy()
    part = make(server.url(path))
    messages: list[Any] = [{"role": "user", "content": part if as_dict else [part]}]
    await resolve_assets(messages, resolver, settings)
    sent = messages[0]["content"] if as_dict else messages[0]["content"][0]
    assert locate(sent) == INLINED[path]  # in the same place, a string where one was
    assert server.paths == [path]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_each_shape_is_refused_under_reject(policy: Policy, shape: Shape) -> None:
    resolver, settings = policy(asset_policy="reject")
    message = await refusal(user(shape[2]("https://cdn.example.com/a")), resolver, settings)
    assert message == (
        "Remote asset URLs are not accepted (ASSET_POLICY=reject); send the content as a data: URL"
    )


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
async def test_each_shape_refuses_the_metadata_address(policy: Policy, shape: Shape) -> None:
    resolver, settings = policy(asset_allow_http=False, asset_trusted_networks=[])
    message = await refusal(user(shape[2](METADATA)), resolver, settings)
    assert message == (
        "Remote asset refused: https://169.254.169.254/ resolves to a non-public address"
    )


STRAY = "https://169.254.169.254/latest/meta-data/?token=s3cret"
STRAYS: list[tuple[str, Any, str]] = [
    ("cased type", {"type": "Image_URL", "image_url": {"url": STRAY}}, "(type 'Image_URL')"),
    ("no type", {"image_url": {"url": STRAY}}, "(a part with no type)"),
    ("unknown type", {"type": "image", "source": {"type": "url", "url": STRAY}}, "(type 'image')"),
    ("field on a text part", {"type": "text", "text": "hi", "url": STRAY}, "(type 'text')"),
    ("text that is no string", {"type": "text", "text": {"url": STRAY}}, "(type 'text')"),
    ("extra image_url field",
     {"type": "image_url", "image_url": {"url": DATA_PNG, "fallback": STRAY}},
     "(type 'image_url')"),
    ("url in a list", {"type": "image_url", "image_url": {"url": [STRAY]}}, "(type 'image_url')"),
    ("field beside file", {"type": "file", "file": {"file_data": DATA_PDF}, "file_url": STRAY},
     "(type 'file')"),
    ("bare string part", STRAY, "(not an object)"),
    ("url as a key", {"type": "x", "refs": {STRAY: 1}}, "(type 'x')"),
    ("nested deep", {"type": "x", "a": [{"b": [{"c": STRAY}]}]}, "(type 'x')"),
    ("protocol-relative", {"type": "x", "src": "//169.254.169.254/latest"}, "(type 'x')"),
    ("backslashes", {"type": "x", "src": "\\\\169.254.169.254\\latest"}, "(type 'x')"),
    ("special scheme, no slashes", {"type": "x", "src": "https:169.254.169.254/latest"},
     "(type 'x')"),
    ("spaces, tabs and case", {"type": "x", "src": " \tHT\ntPS://169.254.169.254/latest"},
     "(type 'x')"),
    ("other scheme", {"type": "x", "src": "gopher://169.254.169.254/latest"}, "(type 'x')"),
    ("data: URL", {"type": "x", "src": "data:image/png;base64,iVBORw0KGgo="}, "(type 'x')"),
    ("type that is a URL", {"type": STRAY}, "message 1, part 1 carries"),
]  # fmt: skip


@pytest.mark.parametrize(("part", "shown"), [s[1:] for s in STRAYS], ids=[s[0] for s in STRAYS])
async def test_a_url_outside_the_policed_fields_is_refused(
    server: AssetServer, policy: Policy, part: Any, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    resolver, settings = policy()
    ok = {"type": "image_url", "image_url": {"url": server.url("/png/100")}}
    with caplog.at_level(logging.INFO, logger="app.assets.parts"):
        message = await refusal(user(ok, part), resolver, settings)
    assert message.startswith("Asset refused: message 1, part 2")
    assert shown.replace("part 1", "part 2") in message
    assert "does not check; send URLs only in image_url, file, video_url or input_video" in message
    for secret in ("latest", "s3cret", "169.254"):
        assert secret not in message
        assert secret not in caplog.text
    assert server.paths == []  # refused before any fetch, the good part included


@pytest.mark.parametrize(
    "data",
    [STRAY, "data:audio/wav;base64,UklGRg==", "//169.254.169.254/x.wav", "s3://bucket/key.wav"],
)
async def test_audio_data_holding_a_url_is_refused(policy: Policy, data: str) -> None:
    resolver, settings = policy()
    part = {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
    message = await refusal(user({"type": "text", "text": "hi"}, part), resolver, settings)
    assert message == (
        "Asset refused: message 1, part 2 is input_audio, whose data must be raw base64 audio, "
        "not a URL; send the audio itself"
    )


MP3_FRAME = base64.b64encode(b"\xff\xfb\x90\x44" * 6).decode()  # base64 that starts with "//"
BENIGN = [
    {"type": "text", "text": "see https://169.254.169.254/ and //x and data:,x"},
    {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
    {"type": "image_url", "image_url": {"url": DATA_PNG, "detail": "high"}},
    {"type": "file", "file": {"filename": "notes: q3.pdf", "file_data": DATA_PDF}},
    {"type": "input_audio", "input_audio": {"data": MP3_FRAME, "format": "mp3"}},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    {"type": "x", "note": "plain words: no URL here", "path": "C:\\docs", "n": 3, "ok": None},
    "a bare string that is no URL",
]


async def test_parts_without_stray_urls_pass_unchanged(server: AssetServer, policy: Policy) -> None:
    assert MP3_FRAME.startswith("//")
    resolver, settings = policy()
    messages: list[Any] = [
        {"role": "system", "content": "You are terse: https://example.com is not an asset here."},
        {"role": "user", "content": copy.deepcopy(BENIGN)},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "//x"}]},
    ]
    original = copy.deepcopy(messages)
    await resolve_assets(messages, resolver, settings)
    assert messages == original
    assert server.paths == []


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("https://a.example/x", True),
        ("HTTPS://A.EXAMPLE", True),
        ("  \x00\t//a.example", True),
        ("h\tt\ntps://a.example", True),
        ("\\\\a.example\\share", True),
        ("/\\a.example", True),
        ("ftp:a.example", True),
        ("Data:text/plain,x", True),
        ("s3://bucket/key", True),
        ("\t" * 10_000 + "https://a.example", True),
        ("mailto:someone@example.com", False),
        ("note: not a url", False),
        ("C:\\docs\\a.pdf", False),
        ("/relative/path", False),
        ("", False),
    ],
)
def test_looks_like_url(value: str, url: bool) -> None:
    assert looks_like_url(value) is url


async def test_images_sent_back_in_an_assistant_turn_are_policed(policy: Policy) -> None:
    resolver, settings = policy(asset_allow_http=False, asset_trusted_networks=[])
    image = {"type": "image_url", "image_url": {"url": METADATA}}
    messages = [{"role": "assistant", "content": "Here it is", "images": [image]}]
    message = await refusal(messages, resolver, settings)
    assert message == (
        "Remote asset refused: https://169.254.169.254/ resolves to a non-public address"
    )
    stray = [
        {"role": "assistant", "content": "x", "images": [{"url": "https://cdn.example.com/a"}]}
    ]
    assert "message 1, image 1" in await refusal(stray, resolver, settings)
