"""The browser example (examples/browser/) in a real Chromium, against running gateways.

The page is served from an origin of its own (tests/browser.py), so each case goes through
CORS as a deployed app does; the one exception is the dev-mode case, which is the README's
first command: the gateway serves the page itself. Each test leaves a screenshot under
test-output/browser/.
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from mock_openrouter.testing import MockControl
from tests.browser import CHROMIUM, CHROMIUM_ARGS, StaticSite, screenshot_path
from tests.factories import make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess, dev_gateway

SIGN_IN = "Your session has expired. Please sign in again."
VIAS = ["legacy", "openai"]
CHAT = "/api/v1/chat/completions"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: scripts/chromium.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1000, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        tab.screenshot(path=screenshot_path(request.node.name), full_page=True)
        context.close()


@pytest.fixture(scope="module")
def site() -> Iterator[StaticSite]:
    with StaticSite() as served:
        yield served


@pytest.fixture(scope="module")
def cors_gateway(gateway_factory: GatewayFactory, site: StaticSite) -> GatewayProcess:
    return gateway_factory(
        CORS_ORIGINS=site.origin, ALLOWED_MODELS="mock/*,openai/*", LOG_LEVEL="info"
    )


def open_example(page: Page, site: StaticSite, gateway: GatewayProcess, **params: str) -> None:
    query = {"gateway": gateway.url, "token": make_token("browser-user"), **params}
    page.goto(f"{site.origin}/index.html?{urlencode(query)}")
    page.wait_for_selector("body[data-ready=true]")


def send_chat(page: Page, via: str) -> None:
    """Click one SDK's Send and wait until the call has ended, however it ended."""
    page.click(f"#send-{via}")
    page.wait_for_selector(f"#send-{via}:enabled")


def chat_entries(control: MockControl) -> list[dict[str, Any]]:
    return [e for e in control.requests() if e["path"] == CHAT]


def test_the_first_command_ends_in_a_page_that_streams_a_chat_answer(
    page: Page, tmp_path: Path
) -> None:
    """`ai-gateway --mock-upstream` (what scripts/run.sh starts without a key) serves the example
    with its dev token: open the printed URL, press Send, read the answer."""
    with dev_gateway(tmp_path) as gateway:
        assert "/examples/browser/" in gateway.logs()
        page.goto(f"{gateway.url}/examples/browser/")
        page.wait_for_selector("body[data-ready=true]")
        for via in VIAS:
            send_chat(page, via)
            assert page.inner_text("#chat-error") == ""
            words = page.inner_text("#chat-output").split()
            assert len(words) == 60, words  # the dev chat model: 60 words from the mock
            assert words[:2] == ["lorem", "ipsum"]
        assert page.inner_text("#limits") == "No usage limits are set for you on this gateway."


def test_a_page_from_another_origin_passes_the_preflight(
    page: Page, site: StaticSite, cors_gateway: GatewayProcess
) -> None:
    # Playwright's own events leave preflights out; the DevTools protocol shows them.
    devtools = page.context.new_cdp_session(page)
    devtools.send("Network.enable")
    seen: list[dict[str, Any]] = []
    devtools.on("Network.responseReceived", lambda event: seen.append(event))
    open_example(page, site, cors_gateway, chat_model="mock/text")
    send_chat(page, "openai")
    assert page.inner_text("#chat-output") == "Hello!"  # the mock streams "Hel", "lo!"
    chat = [e for e in seen if e["response"]["url"] == cors_gateway.url + CHAT]
    # The SDK's Authorization and JSON body make the browser ask first; the gateway said yes.
    assert [(e["type"], e["response"]["status"]) for e in chat] == [
        ("Preflight", 200),
        ("Fetch", 200),
    ]
    for e in chat:
        allowed = {k.lower(): v for k, v in e["response"]["headers"].items()}
        assert allowed["access-control-allow-origin"] == site.origin


@pytest.mark.parametrize("via", VIAS)
def test_streamed_text_appears_in_steps(
    page: Page, site: StaticSite, cors_gateway: GatewayProcess, via: str
) -> None:
    open_example(page, site, cors_gateway, chat_model="mock/text?tokens=12&tpot_ms=150")
    page.evaluate(
        """() => {
          window.steps = [];
          const out = document.getElementById("chat-output");
          new MutationObserver(() => steps.push([performance.now(), out.textContent.length]))
            .observe(out, { childList: true, characterData: true, subtree: true });
        }"""
    )
    send_chat(page, via)
    steps: list[list[float]] = page.evaluate("steps")
    lengths = sorted({int(length) for _, length in steps if length})
    assert len(lengths) >= 10, steps  # 12 words arrive as (at least) 10 separate updates
    first, last = steps[0][0], steps[-1][0]
    assert last - first > 1000, steps  # 11 gaps of 150 ms: spread out, not all at once


@pytest.mark.parametrize("via", VIAS)
def test_stop_closes_the_upstream_within_100_ms(
    page: Page, site: StaticSite, cors_gateway: GatewayProcess, control: MockControl, via: str
) -> None:
    open_example(page, site, cors_gateway, chat_model="mock/text?tokens=300&tpot_ms=50")
    page.click(f"#send-{via}")
    page.wait_for_function("document.getElementById('chat-output').textContent.length > 20")
    stopped_at_ms: float = page.evaluate(
        "() => { const t = Date.now(); document.getElementById('stop').click(); return t; }"
    )
    page.wait_for_selector(f"#send-{via}:enabled")
    deadline = time.monotonic() + 5
    while not (entries := chat_entries(control)) or entries[0]["disconnect_at"] is None:
        assert time.monotonic() < deadline, entries
        time.sleep(0.02)
    [entry] = entries
    assert entry["ended"] == "client_disconnect"
    assert entry["disconnect_at"] * 1000 - stopped_at_ms < 100
    assert page.inner_text("#chat-status") == "Stopped."
    assert page.is_hidden("#chat-error")


def test_an_image_appears(page: Page, site: StaticSite, cors_gateway: GatewayProcess) -> None:
    open_example(page, site, cors_gateway, image_model="mock/image?picture=1")
    page.click("#image-send")
    picture = page.wait_for_selector("#image-output img")
    assert picture is not None
    page.wait_for_function("document.querySelector('#image-output img').complete")
    # Decoded by the browser: a real picture of 64×64 pixels, not a broken-image icon.
    assert picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 64]
    assert page.inner_text("#image-output figcaption") == "Here is your image."


def test_embeddings_are_shown(page: Page, site: StaticSite, cors_gateway: GatewayProcess) -> None:
    open_example(page, site, cors_gateway)
    page.click("#embedding-send")
    page.wait_for_selector("#embedding-send:enabled")
    assert page.inner_text("#embedding-output").startswith("8 dimensions: [")


@pytest.mark.parametrize("via", [*VIAS, "image"])
def test_an_expired_token_shows_the_sign_in_message(
    page: Page, site: StaticSite, cors_gateway: GatewayProcess, control: MockControl, via: str
) -> None:
    expired = make_token("browser-user", expires_in=-60)
    open_example(page, site, cors_gateway, token=expired)
    assert page.inner_text("#limits") == SIGN_IN
    if via == "image":
        page.click("#image-send")
        page.wait_for_selector("#image-send:enabled")
        assert page.inner_text("#image-error") == SIGN_IN
    else:
        send_chat(page, via)
        assert page.inner_text("#chat-error") == SIGN_IN
    assert control.requests() == []


@pytest.mark.parametrize("via", VIAS)
def test_a_refused_model_shows_the_refusal(
    page: Page, site: StaticSite, cors_gateway: GatewayProcess, control: MockControl, via: str
) -> None:
    open_example(page, site, cors_gateway, chat_model="other/model")
    send_chat(page, via)
    assert page.inner_text("#chat-error") == (
        "Model other/model is not enabled. Please contact your administrator to enable this model."
    )
    assert control.requests() == []


@pytest.mark.parametrize("via", VIAS)
def test_a_quota_refusal_says_which_limit_and_when(
    page: Page,
    site: StaticSite,
    gateway_factory: GatewayFactory,
    control: MockControl,
    via: str,
) -> None:
    gateway = gateway_factory(CORS_ORIGINS=site.origin, QUOTA_RPM="2")
    token = make_token(f"browser-{uuid.uuid4().hex[:8]}")
    open_example(page, site, gateway, token=token, chat_model="mock/text")
    assert page.inner_text("#limits") == "2 of 2 requests this minute left"
    send_chat(page, via)
    send_chat(page, via)
    assert page.inner_text("#limits") == "0 of 2 requests this minute left"
    send_chat(page, via)
    refusal = page.inner_text("#chat-error")
    assert refusal.startswith("Limit reached: 2 requests per minute. It allows the next call at ")
    assert len(chat_entries(control)) == 2


@pytest.mark.parametrize("via", VIAS)
def test_without_cors_origins_the_browser_is_refused(
    page: Page,
    site: StaticSite,
    gateway_factory: GatewayFactory,
    control: MockControl,
    via: str,
) -> None:
    gateway = gateway_factory(LOG_LEVEL="info")  # CORS_ORIGINS unset
    open_example(page, site, gateway, chat_model="mock/text")
    send_chat(page, via)
    message = page.inner_text("#chat-error")
    assert f"Could not reach the gateway at {gateway.url}." in message
    assert f"({site.origin}) in CORS_ORIGINS" in message
    assert f"refused a CORS preflight from {site.origin}: add it to CORS_ORIGINS" in gateway.logs()
    assert control.requests() == []
