"""The mock's video API: submit, a job's states over polls, the streamed MP4, auth and errors."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_openrouter import MockProcess, start_mock
from mock_openrouter.testing import MockControl

AUTH = {"Authorization": "Bearer sk-or-v1-test"}
GEN_ID = re.compile(r"^gen-\d+-[0-9A-Za-z]{20}$")
FRAME = {"type": "image_url", "image_url": {"url": "https://ex.com/a.png"}}
# Each test starts from an empty journal, queue and config (the ``control`` fixture resets them).
pytestmark = pytest.mark.usefixtures("control")


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with start_mock(seed=99) as proc:
        yield proc


@pytest.fixture
def client(mock: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.base_url, headers=AUTH, timeout=10) as c:
        yield c


def submit(client: httpx.Client, model: str = "mock/video", **fields: Any) -> httpx.Response:
    return client.post("/videos", json={"model": model, "prompt": "A cat surfing", **fields})


def submit_job(client: httpx.Client, model: str = "mock/video", **fields: Any) -> dict[str, Any]:
    response = submit(client, model, **fields)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


def poll(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    response = client.get(job["polling_url"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_job_moves_to_completed_over_polls(client: httpx.Client, mock: MockProcess) -> None:
    job = submit_job(client, "mock/video?polls=4", duration=5, resolution="720p")
    assert set(job) == {"id", "polling_url", "status"}
    assert job["status"] == "pending"
    assert job["polling_url"] == f"{mock.base_url}/videos/{job['id']}"
    states = [poll(client, job) for _ in range(5)]
    assert [s["status"] for s in states] == [
        "pending",
        "in_progress",
        "in_progress",
        "completed",
        "completed",
    ]
    assert all("unsigned_urls" not in s and "usage" not in s for s in states[:3])
    done = states[3]
    assert done["unsigned_urls"] == [f"{mock.base_url}/videos/{job['id']}/content?index=0"]
    assert done["usage"] == {"cost": 0.05, "is_byok": False}  # 5 s at $0.01 per second
    assert GEN_ID.match(done["generation_id"])
    assert states[4] == done


def test_default_is_three_polls_and_config_changes_it(
    client: httpx.Client, control: MockControl
) -> None:
    job = submit_job(client)
    assert [poll(client, job)["status"] for _ in range(3)] == [
        "pending",
        "in_progress",
        "completed",
    ]
    control.config(video_polls=1, video_bytes=100_000)
    quick = submit_job(client)
    url = poll(client, quick)["unsigned_urls"][0]
    assert len(client.get(url).content) == 100_000


def test_download_is_a_streamed_mp4(client: httpx.Client, control: MockControl) -> None:
    job = submit_job(client, "mock/video?polls=1&chunk_ms=30&bytes=600000")
    url = poll(client, job)["unsigned_urls"][0]
    received = bytearray()
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp4"
        assert response.headers["content-length"] == "600000"
        chunks = response.iter_raw()
        received += next(chunks)
        (entry,) = [e for e in control.requests() if e["path"].endswith("/content")]
        assert entry["ended"] == "in_progress"  # the client holds bytes before the body ends
        for chunk in chunks:
            received += chunk
    assert len(received) == 600_000
    size, box, brand = struct.unpack(">I4s4s", received[:12])
    assert (size, box, brand) == (32, b"ftyp", b"isom")
    assert struct.unpack(">I4s", received[32:40]) == (600_000 - 32, b"mdat")
    (entry,) = [e for e in control.requests() if e["path"].endswith("/content")]
    assert (entry["status"], entry["bytes_sent"], entry["ended"]) == (200, 600_000, "completed")
    assert entry["last_byte_at"] - entry["first_byte_at"] >= 0.2  # 10 writes, 30 ms apart
    assert client.get(url).content == bytes(received)  # every download is the same video


def test_default_download_is_a_few_megabytes(client: httpx.Client) -> None:
    job = submit_job(client, "mock/video?polls=1")
    url = poll(client, job)["unsigned_urls"][0]
    total = 0
    with client.stream("GET", url) as response:
        assert int(response.headers["content-length"]) == 3_000_000
        for chunk in response.iter_bytes():
            total += len(chunk)
    assert total == 3_000_000


def test_content_before_completion_and_bad_index(client: httpx.Client) -> None:
    job = submit_job(client, "mock/video?polls=2&bytes=1000")
    content = f"/videos/{job['id']}/content"
    early = client.get(content, params={"index": 0})
    assert early.status_code == 404
    assert early.json()["error"]["code"] == 404
    poll(client, job)
    assert client.get(content).status_code == 404  # still in_progress
    poll(client, job)
    assert client.get(content).status_code == 200  # index defaults to 0
    assert client.get(content, params={"index": 1}).status_code == 404
    assert client.get(content, params={"index": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("dsl", "end"),
    [("fail=1", "failed"), ("end=cancelled", "cancelled"), ("end=expired", "expired")],
)
def test_job_that_does_not_complete(client: httpx.Client, dsl: str, end: str) -> None:
    job = submit_job(client, f"mock/video?polls=2&{dsl}&error=Content+policy")
    states = [poll(client, job) for _ in range(3)]
    assert [s["status"] for s in states] == ["in_progress", end, end]
    assert "error" not in states[0]
    assert states[1]["error"] == "Content policy"
    assert not {"unsigned_urls", "usage"} & set(states[1])
    assert client.get(f"/videos/{job['id']}/content").status_code == 404


def test_cut_download(client: httpx.Client) -> None:
    job = submit_job(client, "mock/video?polls=1&bytes=500000&drop_at=200000")
    url = poll(client, job)["unsigned_urls"][0]
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(url)


def test_journal_keeps_what_was_sent(client: httpx.Client, control: MockControl) -> None:
    fields = {
        "duration": 8,
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "frame_images": [{**FRAME, "frame_type": "first_frame"}],
        "input_references": [FRAME],
        "callback_url": "https://ex.com/hook",
        "generate_audio": True,
        "seed": 42,
    }
    submit_job(client, "mock/video?polls=2", **fields)
    (entry,) = control.requests()
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/v1/videos", 202)
    assert entry["json"] == {"model": "mock/video?polls=2", "prompt": "A cat surfing", **fields}
    assert '"callback_url":"https://ex.com/hook"' in entry["body"]
    assert (entry["scenario"], entry["scenario_params"]) == ("video", {"polls": "2"})


def test_realistic_model_with_header_scenario(client: httpx.Client) -> None:
    response = client.post(
        "/videos",
        json={"model": "google/veo-3.1", "prompt": "Waves", "duration": 8},
        headers={"X-Mock-Scenario": "video?polls=1&bytes=2000"},
    )
    done = poll(client, response.json())
    assert done["usage"]["cost"] == pytest.approx(3.2)  # 8 s at $0.40 per second
    assert len(client.get(done["unsigned_urls"][0]).content) == 2000


def test_completion_is_billed_once(client: httpx.Client) -> None:
    job = submit_job(client, "mock/video?polls=1&cost=0.5")
    for _ in range(3):
        poll(client, job)
    assert client.get("/key").json()["data"]["usage"] == 0.5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "nobody/video"}, "not a valid video model"),
        ({"model": "mock/text"}, "not a valid video model"),
        ({"prompt": None}, "prompt is required"),
        ({"duration": 7, "model": "google/veo-3.1"}, "duration 7"),
        ({"resolution": "4k"}, "resolution '4k'"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio '2:1'"),
        ({"frame_images": [{**FRAME, "frame_type": "middle"}]}, "frame_type 'middle'"),
        ({"callback_url": "http://ex.com/hook"}, "HTTPS"),
    ],
)
def test_submit_refusals(client: httpx.Client, fields: dict[str, Any], message: str) -> None:
    body = {"model": "mock/video", "prompt": "A cat", **fields}
    response = client.post("/videos", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    assert message in response.json()["error"]["message"]


def test_invalid_json_and_queued_error(client: httpx.Client, control: MockControl) -> None:
    bad = client.post("/videos", content=b"{", headers={"Content-Type": "application/json"})
    assert bad.json() == {"error": {"message": "Invalid JSON body", "code": 400}}
    control.enqueue([{"scenario": "error", "status": 429}], path="/api/v1/videos")
    limited = submit(client)
    assert limited.status_code == 429
    assert submit(client).status_code == 202


def test_unknown_job(client: httpx.Client) -> None:
    for path in ("/videos/job-nope", "/videos/job-nope/content?index=0"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "error": {"message": "Video generation job job-nope not found", "code": 404}
        }


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing Authentication header"),
        ({"Authorization": "Bearer sk-or-invalid"}, "User not found."),
    ],
)
def test_auth_required(
    client: httpx.Client, mock: MockProcess, headers: dict[str, str], message: str
) -> None:
    job = submit_job(client, "mock/video?polls=1&bytes=1000")
    content = poll(client, job)["unsigned_urls"][0]
    with httpx.Client(headers=headers, timeout=10) as anonymous:
        attempts = [
            anonymous.post(f"{mock.base_url}/videos", json={"model": "mock/video", "prompt": "x"}),
            anonymous.get(job["polling_url"]),
            anonymous.get(content),
        ]
        assert anonymous.get(f"{mock.base_url}/videos/models").status_code == 200  # public
    for response in attempts:
        assert response.status_code == 401
        assert response.json() == {"error": {"message": message, "code": 401}}


def test_video_models(client: httpx.Client) -> None:
    response = client.get("/videos/models", headers={"Authorization": ""})
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["data"]}
    assert {"mock/video", "google/veo-3.1"} <= set(models)
    veo = models["google/veo-3.1"]
    assert set(veo) >= {
        "canonical_slug",
        "name",
        "created",
        "supported_resolutions",
        "supported_aspect_ratios",
        "supported_sizes",
        "supported_durations",
        "supported_frame_images",
        "generate_audio",
        "seed",
        "pricing_skus",
        "allowed_passthrough_parameters",
    }
    assert veo["supported_durations"] == [4, 6, 8]
    assert veo["pricing_skus"] == {"per-video-second": "0.40"}
    listed = {m["id"] for m in client.get("/models?output_modalities=all").json()["data"]}
    assert not listed & set(models)  # video models are only listed here
