"""The legacy InsForge Python SDK (`insforge` 0.1.0, `client.ai.*`) against the running gateway
and the mock, as a new user would call it: the project key in `X-API-Key` on every call, the
user's access token beside it. The SDK is async (httpx.AsyncClient)."""

from collections.abc import AsyncIterator

import pytest
from insforge import InsforgeClient
from insforge.ai.models import AIChatMessage
from insforge.exceptions import InsforgeHTTPError

from mock_openrouter.testing import MockControl
from tests.factories import ANON_KEY, API_KEY, make_token
from tests.procs import GatewayProcess

USER_TOKEN = make_token("user-py")


@pytest.fixture
async def project(gateway: GatewayProcess) -> AsyncIterator[InsforgeClient]:
    """A client holding the public anon key, as an app's backend for its users has it."""
    client = InsforgeClient(base_url=gateway.url, api_key=ANON_KEY)
    yield client
    await client.aclose()  # its `async with` is typed as the base client


@pytest.fixture
async def admin(gateway: GatewayProcess) -> AsyncIterator[InsforgeClient]:
    client = InsforgeClient(base_url=gateway.url, api_key=API_KEY)
    yield client
    await client.aclose()  # its `async with` is typed as the base client


async def test_chat_completion(project: InsforgeClient, journal: MockControl) -> None:
    answer = await project.ai.chat_completion(
        model="mock/text",
        messages=[AIChatMessage(role="user", content="Hi")],
        access_token=USER_TOKEN,
    )
    assert answer.text
    assert answer.metadata is not None
    assert answer.metadata.model == "mock/text"
    sent = [e for e in journal.requests() if e["path"] == "/api/v1/chat/completions"]
    assert len(sent) == 1


async def test_embeddings(project: InsforgeClient) -> None:
    answer = await project.ai.generate_embeddings(
        model="openai/text-embedding-3-small", input=["a", "b"], access_token=USER_TOKEN
    )
    assert [item.index for item in answer.data] == [0, 1]
    assert all(item.embedding for item in answer.data)


async def test_embeddings_asked_as_base64_come_back_as_the_floats_the_sdk_reads(
    project: InsforgeClient,
) -> None:
    answer = await project.ai.generate_embeddings(
        model="openai/text-embedding-3-small",
        input="a",
        encoding_format="base64",
        access_token=USER_TOKEN,
    )
    assert all(isinstance(x, float) for x in answer.data[0].embedding)


async def test_generate_images_returns_the_image(project: InsforgeClient) -> None:
    answer = await project.ai.generate_images(
        model="mock/image", prompt="A cat", access_token=USER_TOKEN
    )
    assert answer.images
    assert all(i.type == "image_url" and i.image_url and i.image_url.url for i in answer.images)
    assert answer.count == len(answer.images)
    assert answer.model == "mock/image"


async def test_list_models_validates(admin: InsforgeClient) -> None:
    models = await admin.ai.list_models()
    assert [(g.provider, g.configured) for g in models.text] == [("openrouter", True)]
    assert [(g.provider, g.configured) for g in models.image] == [("openrouter", True)]
    text_ids = [m.id for m in models.text[0].models]
    image_ids = [m.id for m in models.image[0].models]
    assert "mock/text" in text_ids
    assert "mock/image" in image_ids
    assert "mock/text" not in image_ids
    assert str(text_ids[0]).startswith("openai/")  # the legacy list's order
    assert all(m.architecture for m in models.text[0].models)


async def test_get_credits(admin: InsforgeClient, journal: MockControl) -> None:
    credits = await admin.ai.get_credits()
    assert isinstance(credits.usage, float | int)
    assert credits.credits is None  # the mock's key has no limit
    assert [e["path"] for e in journal.requests()] == ["/api/v1/key"]


async def test_admin_routes_refuse_a_user_token(project: InsforgeClient) -> None:
    with pytest.raises(InsforgeHTTPError) as caught:
        await project.ai.get_credits(access_token=USER_TOKEN)
    assert (caught.value.status_code, caught.value.error) == (403, "AUTH_UNAUTHORIZED")


async def test_anon_key_without_a_token_is_refused(project: InsforgeClient) -> None:
    with pytest.raises(InsforgeHTTPError) as caught:
        await project.ai.chat_completion(
            model="mock/text", messages=[AIChatMessage(role="user", content="Hi")]
        )
    assert (caught.value.status_code, caught.value.error) == (401, "AUTH_INVALID_API_KEY")
    assert caught.value.next_action == "Check the API key is valid or generate a new API key."
