"""`/api/v1/videos` through a gateway process and the mock's video API (app/v1/videos.py):
a job submitted, polled to completion and downloaded by its owner, refused to everyone else
with nothing asked upstream, its cost in the ledger, and the download streamed (the gateway's
memory stays flat) and closed upstream when the caller leaves."""

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mock_openrouter.testing import MockControl
from tests.factories import API_KEY, make_token
from tests.gateways import GatewayFactory
from tests.procs import GatewayProcess

MP4_HEAD = b"ftypisom"


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, ledger_dir: Path) -> GatewayProcess:
    return gateway_factory(
        LEDGER_ENABLED="true",
        DATABASE_URL=f"sqlite:///{ledger_dir / 'ledger.db'}",
        LEDGER_FLUSH_S="0.1",
        ALLOWED_MODELS="mock/*,google/*",
        VIDEO_CALLBACK_HOSTS="hooks.example.com",
        ASSET_POLICY="allowlist",
        OPENROUTER_ALLOWED_REMOTE_ASSET_HOSTS="ex.com",
        LOG_LEVEL="info",
    )


@pytest.fixture
def user() -> str:
    return f"video-{uuid.uuid4().hex[:8]}"


def http(gateway: GatewayProcess, who: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {make_token(who)}"}, timeout=20
    )


def sdk(gateway: GatewayProcess, who: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/api/v1", api_key=make_token(who), max_retries=0, timeout=20
    )


def submit(gateway: GatewayProcess, who: str, **body: Any) -> httpx.Response:
    with http(gateway, who) as client:
        return client.post("/api/v1/videos", json={"prompt": "A cat surfing", **body})


def job_requests(control: MockControl, job_id: str) -> list[str]:
    return [
        f"{e['method']} {e['path']}"
        for e in control.requests()
        if e["path"].startswith(f"/api/v1/videos/{job_id}")
    ]


# The openai SDK's video methods warn that OpenAI's own video API is going away; the gateway's
# is OpenRouter's, and the methods' HTTP is what is used here.
SORA_WARNING = "ignore:The Sora API:DeprecationWarning"


@pytest.mark.filterwarnings(SORA_WARNING)
def test_the_owner_submits_polls_and_downloads(gateway: GatewayProcess, user: str) -> None:
    submitted = submit(gateway, user, model="mock/video?polls=3&bytes=2000000&cost=0.42")
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    job_id = job["id"]
    assert job == {"id": job_id, "polling_url": f"/api/v1/videos/{job_id}", "status": "pending"}

    with sdk(gateway, user) as client:  # the openai SDK's retrieve and download_content
        states = [client.videos.retrieve(job_id) for _ in range(3)]
        assert [s.status for s in states] == ["pending", "in_progress", "completed"]
        done = states[-1].model_dump()
        assert done["polling_url"] == f"/api/v1/videos/{job_id}"
        assert done["unsigned_urls"] == [f"{gateway.url}/api/v1/videos/{job_id}/content?index=0"]
        assert done["usage"]["cost"] == 0.42
        with client.videos.with_streaming_response.download_content(job_id) as download:
            assert download.headers["content-type"] == "video/mp4"
            video = b"".join(download.iter_bytes())
    assert len(video) == 2_000_000
    assert video[4:12] == MP4_HEAD

    # The cost is recorded once on the submit's row, so it is in the user's usage.
    with http(gateway, user) as client:
        client.get(f"/api/v1/videos/{job_id}")  # a later poll does not record it again
        usage = client.get("/api/v1/usage").json()
    assert usage["today"]["requests"] == 1
    assert usage["today"]["cost"] == pytest.approx(0.42)


@pytest.mark.filterwarnings(SORA_WARNING)
def test_nobody_else_sees_the_job_and_nothing_goes_upstream(
    gateway: GatewayProcess, control: MockControl, user: str
) -> None:
    job_id = submit(gateway, user, model="mock/video?polls=1").json()["id"]
    control.clear()
    with sdk(gateway, "someone-else") as client:
        with pytest.raises(openai.NotFoundError) as refused:
            client.videos.retrieve(job_id)
        assert refused.value.code == "job_not_found"
        with pytest.raises(openai.NotFoundError):
            client.videos.download_content(job_id)
    with http(gateway, "someone-else") as client:
        assert client.get("/api/v1/videos/job-unknown").status_code == 404
    assert job_requests(control, job_id) == []
    # An admin may follow any job.
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        assert c.get(f"/api/v1/videos/{job_id}").json()["status"] == "completed"
    assert job_requests(control, job_id) == [f"GET /api/v1/videos/{job_id}"]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_download_is_streamed_through_in_flat_memory(gateway: GatewayProcess, user: str) -> None:
    size = 48_000_000
    job_id = submit(gateway, user, model=f"mock/video?polls=1&bytes={size}").json()["id"]
    with http(gateway, user) as client:
        client.get(f"/api/v1/videos/{job_id}")
        before = peak = _rss_kb(gateway.pid)
        received = 0
        with client.stream("GET", f"/api/v1/videos/{job_id}/content") as download:
            assert download.headers["content-length"] == str(size)
            for chunk in download.iter_raw():
                received += len(chunk)
                peak = max(peak, _rss_kb(gateway.pid))
    assert received == size
    # 48 MB went through; the gateway grew by a small fraction of it.
    assert (peak - before) * 1024 < size / 8, (before, peak)


def test_a_caller_who_leaves_closes_the_download_upstream(
    gateway: GatewayProcess, control: MockControl, user: str
) -> None:
    job_id = submit(gateway, user, model="mock/video?polls=1&bytes=3000000&chunk_ms=50").json()[
        "id"
    ]
    with http(gateway, user) as client:
        client.get(f"/api/v1/videos/{job_id}")
    sock = socket.create_connection(("127.0.0.1", gateway.port))
    request = (
        f"GET /api/v1/videos/{job_id}/content HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {make_token(user)}\r\n\r\n"
    )
    sock.sendall(request.encode())
    assert sock.recv(65536)  # the download has started
    left_at = time.time()
    sock.close()
    deadline = time.monotonic() + 5
    while True:
        [entry] = [e for e in control.requests() if e["path"].endswith("/content")]
        if entry["disconnect_at"] is not None:
            break
        assert time.monotonic() < deadline, entry
        time.sleep(0.02)
    assert entry["ended"] == "client_disconnect"
    assert entry["disconnect_at"] - left_at < 0.5
    assert entry["bytes_sent"] < 3_000_000


def test_callback_urls_only_to_hosts_the_operator_allows(
    gateway: GatewayProcess, control: MockControl, user: str
) -> None:
    for url in ("https://hooks.example.com/done", "https://evil.example.net/x"):
        assert submit(gateway, user, model="mock/video", callback_url=url).status_code == 202
    sent = [e["json"] for e in control.requests() if e["path"] == "/api/v1/videos"]
    assert [body.get("callback_url") for body in sent] == ["https://hooks.example.com/done", None]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "openai/sora-2"}, "model_not_allowed"),
        ({"model": "mock/video", "prompt": ""}, "invalid_prompt"),
        (
            {
                "model": "mock/video",
                "frame_images": [
                    {"type": "image_url", "image_url": {"url": "https://elsewhere.org/a.png"}}
                ],
            },
            "asset_refused",
        ),
        ({"model": "mock/video", "input_references": "https://ex.com/a.png"}, "invalid_body"),
    ],
)
def test_the_policy_refuses_before_anything_goes_upstream(
    gateway: GatewayProcess, control: MockControl, user: str, body: dict[str, Any], code: str
) -> None:
    answer = submit(gateway, user, **body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    assert [e for e in control.requests() if e["path"] == "/api/v1/videos"] == []


def test_asset_urls_the_policy_allows_go_upstream(
    gateway: GatewayProcess, control: MockControl, user: str
) -> None:
    frame = {"type": "image_url", "image_url": {"url": "https://ex.com/a.png"}}
    frame_type = {**frame, "frame_type": "first_frame"}
    answer = submit(gateway, user, model="google/veo-3.1", frame_images=[frame_type])
    assert answer.status_code == 202, answer.text
    [sent] = [e["json"] for e in control.requests() if e["path"] == "/api/v1/videos"]
    assert sent["frame_images"] == [frame_type]


def test_a_failed_job_says_why_and_costs_nothing(gateway: GatewayProcess, user: str) -> None:
    job_id = submit(gateway, user, model="mock/video?polls=1&fail=1").json()["id"]
    with http(gateway, user) as client:
        job = client.get(f"/api/v1/videos/{job_id}").json()
        assert job["status"] == "failed", job
        assert job["error"]
        assert "unsigned_urls" not in job
        assert client.get("/api/v1/usage").json()["today"]["cost"] == 0


def test_video_models_obey_the_allow_list(gateway: GatewayProcess, user: str) -> None:
    with http(gateway, user) as client:
        models = client.get("/api/v1/videos/models").json()["data"]
    assert [m["id"] for m in models] == ["mock/video", "google/veo-3.1"]
    assert "supported_durations" in models[1]


def test_without_the_ledger_no_job_is_submitted(
    gateway_factory: GatewayFactory, control: MockControl, user: str
) -> None:
    gateway = gateway_factory()
    answer = submit(gateway, user, model="mock/video")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "ledger_disabled"
    assert [e for e in control.requests() if e["path"] == "/api/v1/videos"] == []
