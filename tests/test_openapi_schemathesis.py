"""Every operation in the served `/openapi.json`, called by schemathesis in-process, authenticated:
no 5xx, and every answer conforms to the schema (status documented, content type, body shape).

The app runs on ASGI with its lifespan (schemathesis runs it and hands each request its state)
and an upstream that answers like OpenRouter (`tests/inprocess.py`'s answers, plus the model
catalog). Remote asset URLs are refused (`ASSET_POLICY=reject`), so nothing leaves the process.
Bounded for a 2-core machine: a few derandomized examples per operation, each under a deadline.
"""

import tempfile
from datetime import timedelta
from typing import Any

import httpx
import orjson
import schemathesis
from hypothesis import settings
from schemathesis import Case

from app.main import create_app
from app.openapi import API_KEY as API_KEY_SCHEME
from app.openapi import BEARER
from tests.factories import API_KEY, make_settings, make_token
from tests.inprocess import CHAT_ANSWER, EMBEDDINGS_ANSWER, STREAM_ANSWER, gateway

MAX_EXAMPLES = 25  # fuzzed per operation; the coverage phase adds its own (deterministic) cases
TOKEN_TTL_S = 86_400
DEADLINE = timedelta(seconds=2)  # one call in-process; a slower one is a finding
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ignored_auth",  # each operation whose `security` names a scheme refuses a call without it
)


def config() -> dict[str, Any]:
    """Schemathesis' configuration (its TOML file, as a dict): the credentials per security
    scheme, applied where the operation's `security` names the scheme, and only our checks."""
    return {
        "auth": {
            "openapi": {
                # Made at collection, so valid for longer than the whole suite runs.
                BEARER: {"bearer": make_token(expires_in=TOKEN_TTL_S)},
                API_KEY_SCHEME: {"api_key": API_KEY},
            }
        },
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }


CATALOG = {
    "data": [
        {
            "id": "openai/gpt-4o-mini",
            "created": 1721260800,
            "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
        }
    ]
}


ENDPOINTS = {"data": {"id": "openai/gpt-4o-mini", "endpoints": [{"provider_name": "OpenAI"}]}}
VIDEO_JOB = {"id": "job-1", "polling_url": "/api/v1/videos/job-1", "status": "pending"}


def openrouter(request: httpx.Request) -> httpx.Response:
    """OpenRouter as far as these calls need: the catalog, a model's endpoints, a video job,
    JSON or a stream as `stream` asks, and its 400 for a `stream` that is not a boolean."""
    path = request.url.path
    if request.method == "GET":
        if path.endswith("/endpoints"):
            return httpx.Response(200, json=ENDPOINTS)
        if "/videos/" in path and not path.endswith("/videos/models"):
            return httpx.Response(200, json=VIDEO_JOB)
        return httpx.Response(200, json=CATALOG)
    body = orjson.loads(request.content)
    if path.endswith("/embeddings"):
        return httpx.Response(200, json=EMBEDDINGS_ANSWER)
    if path.endswith("/videos"):
        return httpx.Response(202, json=VIDEO_JOB)
    stream = body.get("stream")
    if stream is True:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, content=STREAM_ANSWER, headers=headers)
    if stream is not None and not isinstance(stream, bool):
        error = {"message": "stream: Expected boolean", "code": 400}
        return httpx.Response(400, json={"error": error})
    return httpx.Response(200, json=CHAT_ANSWER)


# Loaded when the module is: `schemathesis.pytest.from_fixture` reads a node attribute that
# pytest 9 removed (`_nodeid`). Loading starts the app's lifespan in schemathesis' own event
# loop thread; its pytest plugin ends it after each test and starts it again on the next call.
# The ledger on (SQLite in a directory of its own), so the routes that read it answer 200s.
LEDGER_URL = f"sqlite:///{tempfile.mkdtemp(prefix='ai-gateway-schemathesis-')}/ledger.db"
APP = create_app(
    make_settings(asset_policy="reject", ledger_enabled=True, database_url=LEDGER_URL),
    transport=httpx.MockTransport(openrouter),
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", APP, config=schemathesis.Config.from_dict(config())
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE,
    derandomize=True,
    database=None,
)
def test_every_operation_answers_as_documented(case: Case[Any]) -> None:
    case.call_and_validate()


async def test_an_integral_dimensions_past_64_bits_goes_upstream_as_a_float() -> None:
    """Pinned from schemathesis: `int()` of 1.4599843065074583e+21 made the upstream body
    unserialisable, a 500. The legacy API forwarded the number; so does the gateway."""
    body = b'{"model":"m","input":"x","dimensions":1459984306507458281472}'
    headers = {"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"}
    async with gateway(make_settings()) as (client, recorder):
        resp = await client.post("/api/ai/embeddings", content=body, headers=headers)
    assert resp.status_code == 200
    assert recorder.bodies[0]["dimensions"] == 1.4599843065074583e21
