"""Helpers for tests that drive the mock: the control plane over httpx and a tiny SSE splitter.

The splitter is for asserting on what the mock sent, not a model for the gateway's own decoder
(which must be incremental and spec-complete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(slots=True)
class SseBlock:
    """One blank-line-terminated block: its comment lines, ``event:`` value and ``data:`` lines."""

    comments: list[str] = field(default_factory=list)
    event: str | None = None
    data: list[str] = field(default_factory=list)


def sse_blocks(body: bytes | str) -> list[SseBlock]:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    blocks: list[SseBlock] = []
    current = SseBlock()
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if current.comments or current.data or current.event is not None:
                blocks.append(current)
            current = SseBlock()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        elif line.startswith("event:"):
            current.event = line[6:].strip()
        elif line.startswith("data:"):
            current.data.append(line[5:].removeprefix(" "))
    if current.comments or current.data or current.event is not None:
        blocks.append(current)
    return blocks


def data_payloads(body: bytes | str) -> list[str]:
    return ["\n".join(b.data) for b in sse_blocks(body) if b.data]


class MockControl:
    """Synchronous client for ``/__mock/*``."""

    def __init__(self, root_url: str, timeout: float = 5.0) -> None:
        self.client = httpx.Client(base_url=root_url, timeout=timeout)

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.get("/__mock/requests").raise_for_status().json()
        return result

    def clear(self) -> None:
        self.client.delete("/__mock/requests").raise_for_status()

    def enqueue(
        self,
        responses: list[dict[str, Any]],
        path: str = "/api/v1/chat/completions",
        model: str = "*",
        key: str = "*",
    ) -> None:
        match = {"path": path, "model": model, "key": key}
        payload = {"match": match, "responses": responses}
        self.client.post("/__mock/enqueue", json=payload).raise_for_status()

    def reset(self) -> None:
        self.client.post("/__mock/reset").raise_for_status()

    def config(self, **values: Any) -> dict[str, Any]:
        result: dict[str, Any] = (
            self.client.post("/__mock/config", json=values).raise_for_status().json()
        )
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get("/__mock/stats").raise_for_status().json()
        return result

    def close(self) -> None:
        self.client.close()
