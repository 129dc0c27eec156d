"""Prometheus metrics: what every request did (from its access record, app/access.py), read on
`GET /metrics` with the admin key, or without a key on METRICS_PORT for a scraper inside the
cluster (`serve`: a listener of prometheus-client's own, in a thread, so a scrape never waits
behind the gateway's traffic).

Several workers: each writes its own files under PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode, chosen when the library is first imported, so the parent sets the directory
before it starts them), and a scrape of any worker sums them all.

Every label is bounded and none carries a secret or a user id: the surface; the route (an AI
route's path or the matched route's template, `unmatched` for a 404); the model the upstream
says it served (OpenRouter's catalog, capped at MAX_MODELS values, `other` beyond); the status.
The requested model is not a label: it is whatever the caller typed.
"""

import asyncio
import bisect
import math
import os
import shutil
import tempfile
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from app.access import Access

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_MODELS = 500
# From a cached answer (~1 ms) to a long generation; the overhead buckets are finer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
CONTENT_TYPE = CONTENT_TYPE_LATEST
FLUSH_EVERY_S = 1.0
# Requests seen before a flush on the request path: folded while their objects are young (a
# second of requests held would outlive the collector's first generation) and the work cache-warm.
FLUSH_AT = 64


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def shared_directory(env: dict[str, str]) -> Callable[[], None]:
    """For the parent of several workers: a fresh directory for their metrics files, named in
    `env` (the workers' environment) and in this process's (for `serve`). Returns the function
    that removes it when the workers have stopped. An operator's own PROMETHEUS_MULTIPROC_DIR
    is used as it is, and left in place."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        env[MULTIPROC_ENV] = given
        return lambda: None
    directory = tempfile.mkdtemp(prefix="ai-gateway-metrics-")
    env[MULTIPROC_ENV] = os.environ[MULTIPROC_ENV] = directory
    return lambda: shutil.rmtree(directory, ignore_errors=True)


def worker_gone(pid: int) -> None:
    """A worker has exited: its live gauges (open streams, queued rows) no longer count."""
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class Metrics:
    """One set of metrics for one app (its own registry: tests build several apps).

    The request path only appends what it saw to a list (`observe`, a few µs less per request
    than prometheus-client's per-sample calls and locks); `flush` folds the list into the
    metrics every second, before every exposition, and when it grows long. A histogram is
    folded bucket by bucket (`_fold`): one increment per bucket and flush, not per sample.
    """

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "aigw_requests",
            "Requests answered, by surface, route, served model and HTTP status.",
            ["surface", "route", "model", "status"],
            registry=r,
        )
        self.overhead = Histogram(
            "aigw_overhead_seconds",
            "The gateway's own time per AI call: its latency less the time spent waiting on "
            "the upstream.",
            ["surface"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "aigw_upstream_seconds",
            "Time an AI call spent waiting on the upstream (a JSON answer; a stream's reads).",
            ["surface"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token = Histogram(
            "aigw_time_to_first_token_seconds",
            "From a streamed call's arrival to its first token from the upstream.",
            ["surface"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.open_streams = Gauge(
            "aigw_open_streams", "Streams open now.", multiprocess_mode="livesum", registry=r
        )
        self.retries = Counter("aigw_upstream_retries", "Upstream requests sent again.", registry=r)
        self.tokens = Counter(
            "aigw_tokens",
            "Tokens the upstream reported, by surface, served model and kind.",
            ["surface", "model", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "aigw_cost_usd",
            "Cost in USD the upstream reported (usage.cost), by surface and served model.",
            ["surface", "model"],
            registry=r,
        )
        self.ledger_queue = Gauge(
            "aigw_ledger_queue_rows",
            "Usage rows waiting to be written.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.ledger_dropped = Counter(
            "aigw_ledger_dropped_rows",
            "Usage rows dropped because the queue was full (the database was away too long).",
            registry=r,
        )
        self.quota_refusals = Counter(
            "aigw_quota_refusals", "AI calls refused by a quota, by limit.", ["limit"], registry=r
        )
        self._seen: list[Access] = []
        self._models: set[str] = set()
        self._dropped_seen = 0
        # Set by the app's lifespan: the ledger's queue (depth, dropped rows), the open streams.
        self.ledger: Callable[[], tuple[int, int]] | None = None
        self.streams: Callable[[], int] | None = None

    def observe(self, access: Access) -> None:
        """A request has ended (the request path: nothing but an append)."""
        seen = self._seen
        seen.append(access)
        if len(seen) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Fold what the requests since the last flush did into the metrics."""
        seen, self._seen = self._seen, []
        requests: dict[tuple[str, str, str, str], int] = {}
        tokens: dict[tuple[str, str, str], int] = {}
        cost: dict[tuple[str, str], float] = {}
        times: dict[tuple[Histogram, str], list[float]] = {}
        refusals: dict[str, int] = {}
        retries = 0
        for access in seen:
            surface, usage = access.surface, access.usage
            model = self._model(usage.served_model if usage is not None else None)
            key = (surface, access.route or "unmatched", model, str(access.status))
            requests[key] = requests.get(key, 0) + 1
            if access.limit is not None:
                refusals[access.limit] = refusals.get(access.limit, 0) + 1
            if usage is None:
                continue
            times.setdefault((self.overhead, surface), []).append(access.overhead_s)
            if access.upstream_s:
                times.setdefault((self.upstream, surface), []).append(access.upstream_s)
            if usage.first_token_at is not None:
                ttft = usage.first_token_at - access.started
                times.setdefault((self.first_token, surface), []).append(ttft)
            retries += access.retries
            for kind, count in (
                ("prompt", usage.prompt_tokens),
                ("completion", usage.completion_tokens),
            ):
                if count:
                    tokens[surface, model, kind] = tokens.get((surface, model, kind), 0) + count
            if usage.cost_usd:
                cost[surface, model] = cost.get((surface, model), 0.0) + usage.cost_usd
        for request_labels, count in requests.items():
            self.requests.labels(*request_labels).inc(count)
        for token_labels, count in tokens.items():
            self.tokens.labels(*token_labels).inc(count)
        for (surface, model), usd in cost.items():
            self.cost.labels(surface, model).inc(usd)
        for limit, count in refusals.items():
            self.quota_refusals.labels(limit).inc(count)
        if retries:
            self.retries.inc(retries)
        for (histogram, surface), values in times.items():
            _fold(histogram.labels(surface), values)
        self._gauges()

    def _model(self, served: str | None) -> str:
        if served is None:
            return "none"
        if served in self._models:
            return served
        if len(self._models) < MAX_MODELS:
            self._models.add(served)
            return served
        return "other"

    def _gauges(self) -> None:
        if self.streams is not None:
            self.open_streams.set(self.streams())
        if self.ledger is not None:
            depth, dropped = self.ledger()
            self.ledger_queue.set(depth)
            if dropped > self._dropped_seen:
                self.ledger_dropped.inc(dropped - self._dropped_seen)
                self._dropped_seen = dropped

    async def run(self) -> None:
        """Flush every second until cancelled (the app's lifespan runs it): with several
        workers a scrape reads the other workers' files, which only their flushes write."""
        try:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                self.flush()
        finally:
            self.flush()

    def render(self) -> bytes:
        """The exposition: this process's metrics, or every worker's in multiprocess mode."""
        self.flush()
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def _fold(histogram: Histogram, values: list[float]) -> None:
    """`histogram.observe(v)` for every value, with one increment per bucket. It reaches into
    prometheus-client's Histogram (`_upper_bounds`, `_buckets`, `_sum`: per-bucket counts, as
    its own `observe` keeps them); tests/test_operations.py checks the counts and sums."""
    bounds = histogram._upper_bounds
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
    histogram._sum.inc(math.fsum(values))


def serve(port: int, host: str, metrics: Metrics | None) -> Callable[[], None]:
    """Serve the exposition without a key on `port`: this process's metrics, or (`metrics` None,
    the parent of several workers) every worker's. Returns the function that stops it."""
    directory = multiprocess_dir()
    if directory is None:
        assert metrics is not None
        registry = metrics.registry
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
