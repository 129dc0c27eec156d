"""The asset policy: SSRF refusals before any connection, a real fetch, allowlist and reject.

"No connection" is shown two ways: a listener on the loopback port the hostile URLs name
records every accepted connection, and a spy on the event loop's `sock_connect` and
`create_connection` records every connection attempt to anywhere. A control test shows the
spies do see a connection when one is allowed.
"""

import asyncio
import base64
import ipaddress
import logging
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.assets.addresses import is_public, parse_ipv4_host
from app.assets.network import PinnedResolver
from app.assets.resolver import AssetError, AssetKind, AssetResolver
from tests.factories import make_settings


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1 RGBA
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png()
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<!doctype html><html><body>not an image</body></html>"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 16
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 16
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 16
MKV = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00" * 16
MAX_BYTES = 4096


def data_url(mime: str, body: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(body).decode()}"


@dataclass
class FakeDNS:
    """Injected resolve_host: answers from a table and records every lookup."""

    answers: dict[str, list[str]]
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown host")
        return self.answers[host]


@dataclass
class Spies:
    accepted: list[Any]  # peers the loopback listener accepted
    attempts: list[Any]  # addresses the event loop was asked to connect to
    lookups: list[Any]  # hosts the event loop was asked to resolve
    port: int = 0  # the listener's port


@pytest.fixture
async def spies(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Spies]:
    loop = asyncio.get_running_loop()
    found = Spies([], [], [])

    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        found.accepted.append(writer.get_extra_info("peername"))
        writer.close()
        await writer.wait_closed()

    real_sock_connect, real_create = loop.sock_connect, loop.create_connection
    real_getaddrinfo = loop.getaddrinfo

    async def sock_connect(sock: socket.socket, address: Any) -> None:
        found.attempts.append(address)
        await real_sock_connect(sock, address)

    async def create_connection(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("sock") is None:
            found.attempts.append((kwargs.get("host", args[1:2]), kwargs.get("port")))
        return await real_create(*args, **kwargs)

    async def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        found.lookups.append(host)
        return await real_getaddrinfo(host, *args, **kwargs)

    # One port on both loopbacks, so IPv4 and IPv6 spellings alike would reach the listener.
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    server6 = await asyncio.start_server(on_connect, "::1", found.port)
    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    monkeypatch.setattr(loop, "create_connection", create_connection)
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    yield found
    for listener in (server, server6):
        listener.close()
        await listener.wait_closed()


@pytest.fixture
def port(spies: Spies) -> int:
    return spies.port


ResolverFactory = Callable[..., AssetResolver]


@pytest.fixture
async def make_resolver() -> AsyncIterator[ResolverFactory]:
    made: list[AssetResolver] = []

    def factory(dns: FakeDNS, **overrides: Any) -> AssetResolver:
        made.append(AssetResolver(make_settings(**overrides), resolve_host=dns))
        return made[-1]

    yield factory
    for resolver in made:
        await resolver.aclose()


HOSTILE_DNS = {
    "localhost": ["127.0.0.1"],
    "loopback.example": ["127.0.0.1", "::1"],
    "mixed.example": ["93.184.216.34", "10.0.0.5"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "public.example": ["93.184.216.34"],
}
NON_PUBLIC = "resolves to a non-public address"
HTTPS_ONLY = "only https URLs are allowed (set ASSET_ALLOW_HTTP=true to allow http)"
MALFORMED = "malformed URL"

# {port} is the loopback listener's port: a URL that slipped through would connect to it.
HOSTILE = [
    ("https://127.0.0.1:{port}/", NON_PUBLIC),
    ("http://127.0.0.1/", HTTPS_ONLY),
    ("http://localhost:{port}/", HTTPS_ONLY),
    ("https://localhost:{port}/", NON_PUBLIC),
    ("https://2130706433:{port}/", NON_PUBLIC),
    ("https://0177.0.0.1:{port}/", NON_PUBLIC),
    ("https://0x7f000001:{port}/", NON_PUBLIC),
    ("https://0x7f.1:{port}/", NON_PUBLIC),
    ("https://127.1:{port}/", NON_PUBLIC),
    ("https://127.0.0.1.:{port}/", NON_PUBLIC),
    ("https://[::1]:{port}/", NON_PUBLIC),
    ("https://[::ffff:127.0.0.1]:{port}/", NON_PUBLIC),
    ("https://[::127.0.0.1]:{port}/", NON_PUBLIC),  # IPv4-compatible
    ("https://[::]:{port}/", NON_PUBLIC),
    ("https://0.0.0.0:{port}/", NON_PUBLIC),
    ("https://169.254.169.254/latest/meta-data/", NON_PUBLIC),
    ("http://169.254.169.254/latest/meta-data/", HTTPS_ONLY),
    ("https://metadata.example/latest/meta-data/", NON_PUBLIC),
    ("https://[fd00:ec2::254]/latest/meta-data/", NON_PUBLIC),
    ("https://100.64.0.1/", NON_PUBLIC),
    ("https://10.0.0.1/", NON_PUBLIC),
    ("https://172.16.0.1/", NON_PUBLIC),
    ("https://192.168.1.1/", NON_PUBLIC),
    ("https://[fd00::1]/", NON_PUBLIC),
    ("https://[fe80::1]/", NON_PUBLIC),
    ("https://[64:ff9b::7f00:1]:{port}/", NON_PUBLIC),  # NAT64 of 127.0.0.1
    ("https://[64:ff9b:1::a00:1]/", NON_PUBLIC),  # local-use NAT64
    ("https://[2002:7f00:1::]:{port}/", NON_PUBLIC),  # 6to4 of 127.0.0.1
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", NON_PUBLIC),  # Teredo, client 192.0.2.45
    ("https://224.0.0.1/", NON_PUBLIC),
    ("https://255.255.255.255/", NON_PUBLIC),
    ("https://198.18.0.1/", NON_PUBLIC),
    ("https://192.0.2.1/", NON_PUBLIC),
    ("https://[2001:db8::1]/", NON_PUBLIC),
    ("https://loopback.example:{port}/", NON_PUBLIC),
    ("https://mapped.example:{port}/", NON_PUBLIC),
    ("https://mixed.example/", NON_PUBLIC),
    ("https://public.example:{port}/", "port {port} is not allowed (only 80 and 443)"),
    ("https://1.2.3.999/", MALFORMED),
    ("https://127.0.0.%31:{port}/", MALFORMED),
    ("https://[fe80::1%25lo]:{port}/", MALFORMED),
    ("https://public.example\\@127.0.0.1:{port}/", MALFORMED),
    ("https://user:pass@public.example/", "credentials in the URL are not allowed"),
    ("https://public.example@127.0.0.1:{port}/", "credentials in the URL are not allowed"),
    ("ftp://public.example/x.png", "scheme 'ftp' is not supported"),
    ("file:///etc/passwd", "scheme 'file' is not supported"),
    ("gopher://127.0.0.1:{port}/_GET%20/", "scheme 'gopher' is not supported"),
    ("javascript:alert(1)", "scheme 'javascript' is not supported"),
    ("//127.0.0.1:{port}/", "is not supported"),
    ("data:image/png;base64,not base64!", "Malformed data: URL"),
    ("data:,no-media-type", "Malformed data: URL"),
]


@pytest.mark.parametrize(("template", "expected"), HOSTILE)
async def test_hostile_url_refused_before_any_connection(
    template: str, expected: str, spies: Spies, port: int, make_resolver: ResolverFactory
) -> None:
    dns = FakeDNS(HOSTILE_DNS)
    resolver = make_resolver(dns)  # defaults: inline, https only, nothing trusted
    url = template.format(port=port)

    with pytest.raises(AssetError) as caught:
        await resolver.resolve(url, "image")
    await asyncio.sleep(0.01)  # let the listener accept anything that was sent its way

    assert expected.format(port=port) in caught.value.message
    assert spies.accepted == []
    assert spies.attempts == []
    assert spies.lookups == []  # the only DNS is the injected resolver...
    assert {host for host, _ in dns.calls} <= set(HOSTILE_DNS)  # ...asked about names only


async def test_connection_spies_see_an_allowed_connection(
    spies: Spies, port: int, make_resolver: ResolverFactory
) -> None:
    dns = FakeDNS({"assets.test": ["127.0.0.1"]})
    resolver = make_resolver(dns, asset_allow_http=True, asset_trusted_networks=["127.0.0.1/32"])

    with pytest.raises(AssetError, match="could not fetch"):  # the listener hangs up at once
        await resolver.resolve(f"http://assets.test:{port}/x.png", "image")
    await asyncio.sleep(0.01)

    assert spies.accepted  # aiohttp may retry a GET once on a dropped connection
    assert set(spies.attempts) == {("127.0.0.1", port)}
    assert dns.calls == [("assets.test", port)]


async def test_trusted_network_admits_only_its_own_addresses(
    spies: Spies, port: int, make_resolver: ResolverFactory
) -> None:
    resolver = make_resolver(
        FakeDNS({}), asset_allow_http=True, asset_trusted_networks=["127.0.0.1/32"]
    )
    with pytest.raises(AssetError, match=NON_PUBLIC):
        await resolver.resolve(f"http://127.0.0.2:{port}/", "image")
    assert spies.attempts == []


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
     ("127.1", "127.0.0.1"), ("10.1.65535", "10.1.255.255"), ("8.8.8.8.", "8.8.8.8")],
)  # fmt: skip
def test_numeric_hosts_read_as_inet_aton_does(host: str, address: str) -> None:
    assert str(parse_ipv4_host(host)) == address
    assert parse_ipv4_host("assets.example") is None


# --- a real fetch from a local server, reachable only because its network is trusted ---


@dataclass
class AssetServer:
    port: int
    hosts: list[str]  # Host header of every request
    release: asyncio.Event

    def url(self, path: str) -> str:
        return f"http://assets.test:{self.port}{path}"


def _trickle(release: asyncio.Event) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        await resp.prepare(request)
        await resp.write(PNG[:8])
        while not release.is_set():  # a byte now and then: each read is quick, the whole is not
            await resp.write(b"\x00")
            await asyncio.sleep(0.05)
        return resp

    return handler


async def _unsized(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "image/png"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        for _ in range(3 * MAX_BYTES // 1024):
            await resp.write(PNG[:8] + b"\x00" * 1016)
        await resp.write_eof()
    except ConnectionError:
        pass  # the client stopped reading at the cap, as it should
    return resp


def _asset_app(hosts: list[str], release: asyncio.Event) -> web.Application:
    def body(payload: bytes, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(body=payload, headers={"Content-Type": content_type})

        return handler

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def chain(request: web.Request) -> web.Response:
        hops = int(request.match_info["hops"])
        raise web.HTTPFound(f"/chain/{hops - 1}" if hops > 1 else "/img.png")

    async def gzip(_request: web.Request) -> web.Response:
        return web.Response(
            body=PNG, headers={"Content-Type": "image/png", "Content-Encoding": "gzip"}
        )

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        hosts.append(request.headers.get("Host", ""))
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[record])
    # Path, bytes, declared Content-Type: what each fixed asset is, and what it claims to be.
    fixed = [
        ("/img.png", PNG, "image/png"),
        ("/untyped.png", PNG, "application/octet-stream"),
        ("/doc.pdf", PDF, "application/pdf"),
        ("/page.png", HTML, "image/png"),
        ("/gif.png", GIF, "image/png"),
        ("/clip.mp4", MP4, "video/mp4"),
        ("/clip.mov", MOV, "video/quicktime"),
        ("/clip.webm", WEBM, "video/webm"),
        ("/clip.mkv", MKV, "video/matroska"),
        ("/untyped.mp4", MP4, "application/octet-stream"),
        ("/page.mp4", HTML, "video/mp4"),
        ("/webm.mp4", WEBM, "video/mp4"),
        ("/big.png", PNG + b"\x00" * MAX_BYTES, "image/png"),
    ]
    for path, payload, content_type in fixed:
        app.router.add_get(path, body(payload, content_type))
    app.router.add_get("/unsized.png", _unsized)
    app.router.add_get("/slow.png", _trickle(release))
    app.router.add_get("/gzip.png", gzip)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/chain/{hops}", chain)
    return app


@pytest.fixture
async def asset_server() -> AsyncIterator[AssetServer]:
    hosts: list[str] = []
    release = asyncio.Event()
    server = TestServer(_asset_app(hosts, release), host="127.0.0.1")
    await server.start_server()
    assert server.port is not None
    yield AssetServer(server.port, hosts, release)
    release.set()
    await server.close()


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS({"assets.test": ["127.0.0.1"], "private.test": ["10.0.0.7"]})


@pytest.fixture
def fetcher(make_resolver: ResolverFactory, dns: FakeDNS) -> AssetResolver:
    return make_resolver(
        dns,
        asset_allow_http=True,
        asset_trusted_networks=["127.0.0.1/32"],
        asset_max_bytes=MAX_BYTES,
        asset_max_redirects=2,
        asset_fetch_timeout_s=2.0,
    )


async def test_png_is_fetched_once_and_inlined(
    fetcher: AssetResolver, asset_server: AssetServer, dns: FakeDNS, spies: Spies
) -> None:
    result = await fetcher.resolve(asset_server.url("/img.png"), "image")

    assert result == data_url("image/png", PNG)
    assert dns.calls == [("assets.test", asset_server.port)]
    assert spies.lookups == []  # no second lookup: the connector used the checked address
    assert spies.attempts == [("127.0.0.1", asset_server.port)]
    assert asset_server.hosts == [f"assets.test:{asset_server.port}"]


async def test_concurrent_fetches_keep_their_own_pins(
    asset_server: AssetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"host{i}.test" for i in range(6)]

    async def slow_dns(host: str, _port: int) -> list[str]:
        await asyncio.sleep(0.01 * names.index(host))
        return ["127.0.0.1"]

    real_resolve = PinnedResolver.resolve

    async def late_resolve(self: PinnedResolver, *args: Any, **kwargs: Any) -> Any:
        # Every other fetch sets its pin meanwhile; each must still read its own.
        await asyncio.sleep(0.1)
        return await real_resolve(self, *args, **kwargs)

    monkeypatch.setattr(PinnedResolver, "resolve", late_resolve)
    resolver = AssetResolver(
        make_settings(asset_allow_http=True, asset_trusted_networks=["127.0.0.1/32"]),
        resolve_host=slow_dns,
    )
    try:
        urls = [f"http://{name}:{asset_server.port}/img.png" for name in names]
        results = await asyncio.gather(*(resolver.resolve(url, "image") for url in urls))
    finally:
        await resolver.aclose()
    assert results == [data_url("image/png", PNG)] * len(names)
    assert sorted(asset_server.hosts) == sorted(f"{n}:{asset_server.port}" for n in names)


@pytest.mark.parametrize(
    ("path", "kind", "expected"),
    [
        ("/doc.pdf", "file", data_url("application/pdf", PDF)),
        ("/untyped.png", "image", data_url("image/png", PNG)),  # generic type: bytes decide
        ("/chain/2", "image", data_url("image/png", PNG)),  # exactly ASSET_MAX_REDIRECTS
        ("/redirect?to=/img.png", "image", data_url("image/png", PNG)),
        ("/clip.mp4", "video", data_url("video/mp4", MP4)),
        ("/clip.mov", "video", data_url("video/quicktime", MOV)),
        ("/clip.webm", "video", data_url("video/webm", WEBM)),
        ("/clip.mkv", "video", data_url("video/x-matroska", MKV)),  # an alias of the type
        ("/untyped.mp4", "video", data_url("video/mp4", MP4)),
    ],
)
async def test_accepted_assets(
    fetcher: AssetResolver, asset_server: AssetServer, path: str, kind: AssetKind, expected: str
) -> None:
    assert await fetcher.resolve(asset_server.url(path), kind) == expected


@pytest.mark.parametrize(
    ("path", "kind", "expected"),
    [
        ("/page.png", "image", "content is not a png, jpeg, gif or webp image"),
        ("/gif.png", "image", "declared Content-Type does not match the content (image/gif)"),
        ("/img.png", "file", "content is not a PDF"),
        ("/page.mp4", "video", "content is not an mp4, QuickTime, webm or Matroska video"),
        ("/img.png", "video", "content is not an mp4, QuickTime, webm or Matroska video"),
        ("/clip.mp4", "image", "content is not a png, jpeg, gif or webp image"),
        ("/webm.mp4", "video", "declared Content-Type does not match the content (video/webm)"),
        ("/big.png", "image", f"Remote asset too large (limit {MAX_BYTES} bytes, ASSET_MAX_BYTES)"),
        ("/unsized.png", "image", f"too large (limit {MAX_BYTES} bytes"),
        ("/gzip.png", "image", "compressed responses are not accepted"),
        ("/missing.png", "image", "HTTP 404 from http://assets.test:{port}/"),
        ("/chain/3", "image", "too many redirects (limit 2, ASSET_MAX_REDIRECTS)"),
        ("/redirect?to=ftp://assets.test/x", "image", "only http(s) URLs can be fetched"),
    ],
)
async def test_refused_responses(
    fetcher: AssetResolver, asset_server: AssetServer, path: str, kind: AssetKind, expected: str
) -> None:
    with pytest.raises(AssetError) as caught:
        await fetcher.resolve(asset_server.url(path), kind)
    assert expected.format(port=asset_server.port) in caught.value.message


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("http://169.254.169.254/latest/meta-data/", "http://169.254.169.254/"),
        ("http://10.0.0.1/", "http://10.0.0.1/"),
        ("http://private.test/", "http://private.test/"),
        ("http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/"),
    ],
)
async def test_redirect_hop_is_checked_before_connecting(
    fetcher: AssetResolver, asset_server: AssetServer, spies: Spies, target: str, shown: str
) -> None:
    with pytest.raises(AssetError) as caught:
        await fetcher.resolve(asset_server.url(f"/redirect?to={target}"), "image")

    assert caught.value.message == f"Remote asset refused: {shown} resolves to a non-public address"
    assert spies.attempts == [("127.0.0.1", asset_server.port)]  # the first hop only


async def test_whole_fetch_is_time_capped(
    make_resolver: ResolverFactory, dns: FakeDNS, asset_server: AssetServer
) -> None:
    resolver = make_resolver(
        dns,
        asset_allow_http=True,
        asset_trusted_networks=["127.0.0.1/32"],
        asset_fetch_timeout_s=0.3,
    )
    started = time.monotonic()
    with pytest.raises(AssetError) as caught:
        await resolver.resolve(asset_server.url("/slow.png"), "image")

    assert caught.value.message == (
        "Remote asset fetch timed out (limit 0.3 s, ASSET_FETCH_TIMEOUT_S)"
    )
    assert time.monotonic() - started < 1.5


async def test_refusal_is_logged_with_host_only(
    make_resolver: ResolverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    resolver = make_resolver(FakeDNS({}))
    with caplog.at_level(logging.INFO, logger="app.assets.resolver"), pytest.raises(AssetError):
        await resolver.resolve("https://10.0.0.1/x.png?token=s3cret", "image")
    assert "host=10.0.0.1" in caplog.text
    assert "s3cret" not in caplog.text
    assert "x.png" not in caplog.text


# --- allowlist and reject ---

ALLOWLIST = {
    "asset_policy": "allowlist",
    "openrouter_allowed_remote_asset_hosts": "cdn.example.com,*.Images.example",
}


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/a.png?sig=abc",
        "https://CDN.Example.com/a.png",
        "https://a.images.example/x.png",
        "https://b.a.images.example/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
    ],
)
async def test_allowlist_passes_listed_hosts_unchanged(
    make_resolver: ResolverFactory, spies: Spies, url: str
) -> None:
    dns = FakeDNS({})
    assert await make_resolver(dns, **ALLOWLIST).resolve(url, "image") == url
    assert dns.calls == []
    assert spies.attempts == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://evil.example/x.png",
            "Remote asset host 'evil.example' is not allowed (ASSET_POLICY=allowlist; "
            "see OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS)",
        ),
        ("https://images.example/x.png", "host 'images.example' is not allowed"),
        ("https://evilimages.example/x.png", "host 'evilimages.example' is not allowed"),
        ("https://cdn.example.com.evil.example/", "host 'cdn.example.com.evil.example'"),
        ("https://cdn.example.com@evil.example/", "credentials in the URL are not allowed"),
        ("http://cdn.example.com/a.png", HTTPS_ONLY),
        ("ftp://cdn.example.com/a.png", "scheme 'ftp' is not supported"),
        ("data:image/png;base64,A", "Malformed data: URL"),
    ],
)
async def test_allowlist_refuses_other_urls(
    make_resolver: ResolverFactory, url: str, expected: str
) -> None:
    with pytest.raises(AssetError) as caught:
        await make_resolver(FakeDNS({}), **ALLOWLIST).resolve(url, "image")
    assert expected in caught.value.message


async def test_reject_accepts_data_urls_only(make_resolver: ResolverFactory) -> None:
    resolver = make_resolver(FakeDNS({}), asset_policy="reject")
    pdf = data_url("application/pdf", PDF)
    assert await resolver.resolve(pdf, "file") == pdf
    with pytest.raises(AssetError) as caught:
        await resolver.resolve("https://cdn.example.com/a.png", "image")
    assert caught.value.message == (
        "Remote asset URLs are not accepted (ASSET_POLICY=reject); send the content as a data: URL"
    )
    with pytest.raises(AssetError, match="scheme 'file' is not supported"):
        await resolver.resolve("file:///etc/passwd", "file")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("DATA:IMAGE/PNG;BASE64,iVBORw0KGgo=", True),
        ("data:image/svg+xml;charset=utf-8,%3Csvg%3E%3C/svg%3E", True),
        ("data:text/plain,hello%20world", True),
        ("data:", False),
        ("data:image/png;base64", False),
        ("data:image/png;base64,", False),
        ("data:image/png;base64,iVBORw0KGgo", True),  # unpadded: the legacy contract sends it
        ("data:image/png;base64,iVBO Rw0KGgo=", False),
        ("data:;base64,iVBORw0KGgo=", False),
        ("data:png;base64,iVBORw0KGgo=", False),
        ("data:text/plain,hello world", False),
    ],
)
async def test_data_urls_must_be_well_formed(
    make_resolver: ResolverFactory, url: str, ok: bool
) -> None:
    resolver = make_resolver(FakeDNS({}))
    if ok:
        assert await resolver.resolve(url, "image") == url
    else:
        with pytest.raises(AssetError, match="Malformed data: URL"):
            await resolver.resolve(url, "image")
