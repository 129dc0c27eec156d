"""The batched background writer: rows wait in a bounded queue and are inserted in batches.

The request path only appends a tuple (`put`), so the ledger costs it no I/O and almost no CPU.
One task writes: full batches when `batch_size` rows wait, and whatever waits when `flush_s`
passes with no full batch, or when asked (`flush`, `stop`). Only full batches while calls keep
coming: writing whatever arrived during the last write made batches of a few rows at load,
each paying a transaction's round trips (app/ledger/inserts.py writes one batch). When
the database is down the batch stays queued and is retried with backoff; the queue's bound
caps the memory an outage can take, and rows past it are dropped, counted (`dropped`) and
named in a warning, never silently. `stop` writes what is queued, within a bounded wait;
`flush` does the same for the readers of the ledger (app/ledger/queries.py), so a caller can
read back a call it has just made.
"""

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger.connections import first_line
from app.ledger.inserts import Columns, insert_rows

log = logging.getLogger("app.ledger")

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
# A database that accepts the connection and then says nothing must not stall the writer.
WRITE_TIMEOUT_S = 30.0
# Shutdown waits this long for the last rows (SIGTERM gives the process more than this).
SHUTDOWN_FLUSH_S = 5.0
# A reader waits this long for the rows queued before it; past it, it reads what is written.
READ_FLUSH_S = 2.0

Row = tuple[Any, ...]
ToColumns = Callable[[Row], Columns]


class LedgerWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        to_columns: ToColumns,
        *,
        queue_max: int,
        batch_size: int,
        flush_s: float,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._engine = engine
        self._to_columns = to_columns
        self._rows: deque[Row] = deque()
        self._queue_max = queue_max
        self._batch_size = batch_size
        self._flush_s = flush_s
        self._retry_first_s = retry_first_s
        self._retry_max_s = retry_max_s
        self._wake = asyncio.Event()
        self._wrote = asyncio.Event()
        self._whole = False  # the next wake writes every waiting row, not only full batches
        self._closing = False
        # Done before the first write, retried like one: the schema's migration, when the
        # database could not be reached at start-up (app/ledger/service.py).
        self._prepare = prepare
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self._dropped_reported = 0

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def waiting(self) -> int:
        return len(self._rows)

    def put(self, row: Row) -> None:
        """Queue one row (the request path: no I/O, no waiting)."""
        rows = self._rows
        if len(rows) >= self._queue_max:
            self.dropped += 1
            return
        rows.append(row)
        if len(rows) == self._batch_size:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    async def stop(self, wait_s: float = SHUTDOWN_FLUSH_S) -> None:
        """Write what is queued, waiting at most `wait_s`; what is left then is counted."""
        self._closing = True
        self._whole = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, wait_s)
            except TimeoutError:
                left = len(self._rows)
                self._rows.clear()
                self.dropped += left
                log.warning("ledger: database unavailable at shutdown; %d call rows lost", left)
                self._dropped_reported = self.dropped
        self._report_drops()

    async def flush(self, wait_s: float = READ_FLUSH_S) -> bool:
        """Write the rows queued now, waiting at most `wait_s`; False when some still wait.

        Rows leave the queue in order, so those queued now are written once `written` has
        grown by the queue's length."""
        target = self.written + len(self._rows)
        try:
            async with asyncio.timeout(wait_s):
                while self.written < target:
                    self._wrote.clear()
                    self._whole = True
                    self._wake.set()
                    await self._wrote.wait()
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            except TimeoutError:
                self._whole = True
            self._wake.clear()
            whole, self._whole = self._whole, False
            await self._drain(whole)
        await self._drain(whole=True)

    async def _drain(self, whole: bool) -> None:
        """Write full batches, then (when `whole`) what is left."""
        backoff = self._retry_first_s
        while self._prepare is not None or (
            self._rows and (whole or len(self._rows) >= self._batch_size)
        ):
            self._report_drops()
            batch = list(itertools.islice(self._rows, self._batch_size))
            try:
                await self._write(batch)
            except Exception as err:  # any database failure: the rows wait and are retried
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "ledger: cannot write (%s: %s); %d call rows wait, retrying",
                        type(err).__name__,
                        first_line(err),
                        len(self._rows),
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._retry_max_s)
                continue
            if self._failing:
                self._failing = False
                log.warning("ledger: database back; writing the %d waiting rows", len(self._rows))
            for _ in batch:
                self._rows.popleft()
            self.written += len(batch)
            self._wrote.set()
            backoff = self._retry_first_s
        self._report_drops()

    async def _write(self, batch: list[Row]) -> None:
        if self._prepare is not None:
            await self._prepare()
            self._prepare = None
        if batch:
            await self._insert(batch)

    async def _insert(self, batch: list[Row]) -> None:
        rows = [self._to_columns(row) for row in batch]
        async with asyncio.timeout(WRITE_TIMEOUT_S), self._engine.begin() as connection:
            await insert_rows(connection, rows)

    def _report_drops(self) -> None:
        new = self.dropped - self._dropped_reported
        if new:
            self._dropped_reported = self.dropped
            log.warning(
                "ledger: queue full (%d rows waiting); dropped %d call rows", self._queue_max, new
            )
