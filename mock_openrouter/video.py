"""``/api/v1/videos``: submit a job (202), poll it, download its MP4.

Shapes follow OpenRouter's video API reference. The submit answers
``{"id","polling_url","status":"pending"}``; a poll adds ``generation_id`` once the job is
terminal, ``unsigned_urls`` and ``usage`` once completed, ``error`` once failed. Deviation on
purpose: ``polling_url`` and ``unsigned_urls`` are absolute URLs on the mock itself, built from the
request's ``Host``, so a client can follow them without knowing the mock's address.

A submit is checked the way upstream checks it (a 400 for an unknown model or an out-of-set
``duration``/``resolution``/``aspect_ratio``/``size``/``frame_type``, or a non-HTTPS
``callback_url``), and its body is journaled like any request's, so a test can assert what a
gateway sent. Scenario parameters (``mock/video?k=v``, the header or the queue):
``polls`` (the poll that is terminal), ``fail=1`` / ``end=cancelled|expired`` / ``error=<message>``,
``cost`` (USD, default per-second price x duration), ``bytes`` (MP4 size), ``chunk_ms`` (pause
between 64 KiB writes), ``drop_at`` (close the download after that many bytes).
"""

from __future__ import annotations

import random
import re
import time
from typing import Any
from urllib.parse import parse_qs

from .catalog_routes import video_model
from .dsl import ScenarioSpec
from .journal import JournalEntry
from .payloads import generation_id
from .plan import Plan
from .script import base_headers, json_plan
from .state import MockState
from .video_jobs import TERMINAL, VideoJob, download_steps, mp4_bytes

VIDEOS_PATH = "/api/v1/videos"
VIDEO_MODELS_PATH = "/api/v1/videos/models"
JOB_PATH = re.compile(r"^/api/v1/videos/(?P<id>[^/]+)(?P<content>/content)?$")
DEFAULT_FAILURE = "The provider could not generate this video. No credits were charged."
_CHOICES = {
    "duration": "supported_durations",
    "resolution": "supported_resolutions",
    "aspect_ratio": "supported_aspect_ratios",
    "size": "supported_sizes",
}


def needs_auth(path: str) -> bool:
    """Submit, poll and download need a key; the model list is public."""
    return path.startswith(VIDEOS_PATH) and path != VIDEO_MODELS_PATH


def _error(status: int, message: str, rng: random.Random) -> Plan:
    return json_plan(status, {"error": {"message": message, "code": status}}, "video", rng)


def _origin(entry: JournalEntry) -> str:
    return "http://" + (entry.headers.get("host") or "127.0.0.1")


def _invalid(request: dict[str, Any], model: str, entry: dict[str, Any]) -> str | None:
    """Why upstream would refuse this submit with a 400, or None."""
    prompt = request.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return "prompt must be a string"
    frames, refs = request.get("frame_images"), request.get("input_references")
    if not prompt and not frames and not refs:
        return "prompt is required"
    for key, field in _CHOICES.items():
        value, allowed = request.get(key), entry[field]
        if value is not None and allowed is not None and value not in allowed:
            return f"{key} {value!r} is not supported by {model}; supported: {allowed}"
    if frames is not None:
        if not isinstance(frames, list):
            return "frame_images must be an array"
        for frame in frames:
            if not isinstance(frame, dict) or not isinstance(frame.get("image_url"), dict):
                return "frame_images items need an image_url object"
            if frame.get("frame_type") not in entry["supported_frame_images"]:
                return f"frame_type {frame.get('frame_type')!r} is not supported by {model}"
    if refs is not None and not (
        isinstance(refs, list) and all(isinstance(r, dict) and "type" in r for r in refs)
    ):
        return "input_references must be an array of typed references"
    callback = request.get("callback_url")
    if callback is not None and not (isinstance(callback, str) and callback.startswith("https://")):
        return "callback_url must be an HTTPS URL"
    return None


def _cost(spec: ScenarioSpec, request: dict[str, Any], entry: dict[str, Any]) -> float:
    duration = request.get("duration") or entry["supported_durations"][0]
    per_second = float(entry["pricing_skus"]["per-video-second"])
    return round(spec.get_float("cost", per_second * float(duration)), 12)


def _end(spec: ScenarioSpec) -> str:
    end = spec.params.get("end", "")
    if end in TERMINAL:
        return end
    return "failed" if spec.get_flag("fail") else "completed"


def submit_plan(
    state: MockState, entry: JournalEntry, spec: ScenarioSpec, rng: random.Random
) -> Plan:
    """``POST /videos``: validate, create the job, answer 202 ``pending``."""
    request = entry.json
    if not isinstance(request, dict):
        return _error(400, "Invalid JSON body", rng)
    model = str(request.get("model") or "")
    catalog_entry = video_model(model)
    if catalog_entry is None:
        return _error(400, f"{model or 'model'} is not a valid video model ID", rng)
    problem = _invalid(request, model, catalog_entry)
    if problem is not None:
        return _error(400, problem, rng)
    now, cfg = time.time(), state.config
    end = _end(spec)
    drop_at = spec.get_int("drop_at", -1)
    job = VideoJob(
        id=generation_id(rng, now, "job"),
        model=model.partition("?")[0],
        generation_id=generation_id(rng, now),
        polls_needed=max(1, spec.get_int("polls", cfg.video_polls)),
        end=end,
        error=spec.params.get("error", DEFAULT_FAILURE) if end != "completed" else None,
        cost=_cost(spec, request, catalog_entry),
        size=spec.get_int("bytes", cfg.video_bytes),
        chunk_pause_s=spec.get_float("chunk_ms", 0.0) / 1000,
        drop_at=drop_at if drop_at >= 0 else None,
    )
    state.videos.add(job)
    body = {"id": job.id, "polling_url": f"{_origin(entry)}{VIDEOS_PATH}/{job.id}"}
    return json_plan(202, {**body, "status": job.status}, "video", rng)


def _job_body(job: VideoJob, status: str, origin: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "polling_url": f"{origin}{VIDEOS_PATH}/{job.id}",
        "status": status,
    }
    if status in TERMINAL:
        body["generation_id"] = job.generation_id
    if status == "completed":
        body["unsigned_urls"] = [f"{origin}{VIDEOS_PATH}/{job.id}/content?index=0"]
        body["usage"] = {"cost": job.cost, "is_byok": False}
    elif job.error is not None and status == job.end:
        body["error"] = job.error
    return body


def job_plan(state: MockState, entry: JournalEntry, rng: random.Random) -> Plan | None:
    """``GET /videos/{id}`` (one poll) or ``GET /videos/{id}/content``; None for other paths."""
    match = JOB_PATH.match(entry.path)
    if match is None:
        return None
    job = state.videos.get(match["id"])
    if job is None:
        return _error(404, f"Video generation job {match['id']} not found", rng)
    if match["content"]:
        return _content_plan(job, entry, rng)
    status = job.poll()
    if status == "completed" and not job.billed:
        job.billed = True
        state.key_usage += job.cost
    return json_plan(200, _job_body(job, status, _origin(entry)), "video", rng)


def _content_plan(job: VideoJob, entry: JournalEntry, rng: random.Random) -> Plan:
    raw = (parse_qs(entry.query).get("index") or ["0"])[0]
    if not raw.isdigit():
        return _error(400, "index must be a non-negative integer", rng)
    if job.status != "completed":
        return _error(404, f"Video generation job {job.id} has no content yet", rng)
    if int(raw) != 0:
        return _error(404, f"Video generation job {job.id} has no output at index {raw}", rng)
    data = mp4_bytes(job.id, job.size)
    headers = base_headers(rng, b"video/mp4") + [(b"content-length", str(len(data)).encode())]
    steps = download_steps(data, job.chunk_pause_s, job.drop_at)
    return Plan(200, headers, steps, "video_content")
