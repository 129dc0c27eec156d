"""Video generation jobs: their life over polls, and the MP4 a completed job serves.

A job's status depends only on how often it has been polled, never on the clock, so a test
drives it without sleeping. With ``polls=N`` (default ``MockConfig.video_polls``, 3) the submit
answers ``pending``; polls 1..N-1 answer ``in_progress`` (the first is still ``pending`` when
N >= 3); poll N answers the terminal status, which then sticks: ``completed``, or ``failed`` with
``fail=1``, or ``end=cancelled|expired``.

The MP4 is not stored: it is rebuilt from the job id on each download (a ``ftyp`` box, then one
``mdat`` box of seeded bytes), so every download of a job is byte-identical and a finished job
costs no memory.
"""

from __future__ import annotations

import collections
import random
import struct
from dataclasses import dataclass

from .plan import Abort, Sleep, Step, Write

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired"})
JOBS_MAX = 1_000
CHUNK_BYTES = 64 * 1024  # one ASGI send per chunk, so a client sees a streamed body
MIN_BYTES = 48  # the ftyp and mdat headers, plus a few payload bytes
MAX_BYTES = 64 * 1024 * 1024  # bounds what one download holds in memory
FTYP = struct.pack(">I4s4sI", 32, b"ftyp", b"isom", 0x200) + b"isomiso2avc1mp41"


@dataclass(slots=True)
class VideoJob:
    id: str
    model: str
    generation_id: str
    polls_needed: int
    end: str
    error: str | None
    cost: float
    size: int
    chunk_pause_s: float = 0.0
    drop_at: int | None = None
    polls: int = 0
    billed: bool = False

    def status_at(self, poll: int) -> str:
        if poll >= self.polls_needed:
            return self.end
        if poll == 0 or (poll == 1 and self.polls_needed >= 3):
            return "pending"
        return "in_progress"

    @property
    def status(self) -> str:
        return self.status_at(self.polls)

    def poll(self) -> str:
        self.polls += 1
        return self.status


class VideoJobs:
    """Jobs by id, oldest forgotten first beyond ``JOBS_MAX``."""

    def __init__(self) -> None:
        self._jobs: collections.OrderedDict[str, VideoJob] = collections.OrderedDict()

    def add(self, job: VideoJob) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > JOBS_MAX:
            self._jobs.popitem(last=False)

    def get(self, job_id: str) -> VideoJob | None:
        return self._jobs.get(job_id)

    def clear(self) -> None:
        self._jobs.clear()


def mp4_bytes(job_id: str, size: int) -> bytes:
    """``size`` bytes of a plausible MP4: ``ftyp`` (isom), then an ``mdat`` box filling the rest."""
    size = min(max(size, MIN_BYTES), MAX_BYTES)
    payload = random.Random(job_id).randbytes(size - len(FTYP) - 8)
    return FTYP + struct.pack(">I4s", size - len(FTYP), b"mdat") + payload


def download_steps(data: bytes, pause_s: float, drop_at: int | None) -> list[Step]:
    """The body as ``CHUNK_BYTES`` writes, ``pause_s`` apart; cut (no end) at ``drop_at``."""
    steps: list[Step] = []
    end = len(data) if drop_at is None else min(max(drop_at, 0), len(data))
    for start in range(0, end, CHUNK_BYTES):
        if steps and pause_s > 0:
            steps.append(Sleep(pause_s))
        steps.append(Write(data[start : min(start + CHUNK_BYTES, end)]))
    if drop_at is not None:
        steps.append(Abort())
    return steps
