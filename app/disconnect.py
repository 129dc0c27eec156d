"""Cancel a call whose caller has gone, so nothing runs (or is billed) for nobody.

The whole request body has been read when a call starts, so the next message the server has for
the app is the caller's disconnect: a watcher waits for it and cancels the call's task, which
cancels its upstream request and closes that connection. A stream that has started has its own
watcher (`app/streams/response.py`).
"""

import asyncio
import logging
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("app.calls")

# nginx's status for "the client closed the request": what the server's access log shows for a
# call whose caller left (nothing is sent to anyone).
CLIENT_CLOSED_REQUEST = 499
# How long a call runs before a watcher looks out for its caller leaving: most calls end sooner
# and need none (a task per request was a tenth of a fast call's CPU), and a caller who left
# earlier is still noticed within that time.
WATCH_AFTER_S = 0.05


async def until_caller_leaves(request: Request, call: Awaitable[Response], path: str) -> Response:
    """Run `call` (a handler, its upstream call included) and cancel it the moment the caller
    hangs up: a JSON call, or a stream still waiting for the upstream's headers, is not run to
    its end for nobody. The answer is then an empty 499."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    left = False
    watcher: asyncio.Task[None] | None = None

    async def watch() -> None:
        nonlocal left
        while (await request.receive())["type"] != "http.disconnect":
            pass
        left = True
        task.cancel()

    def start_watching() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    timer = loop.call_later(WATCH_AFTER_S, start_watching)
    try:
        return await call
    except asyncio.CancelledError:
        if not left:
            raise
        task.uncancel()
        # The record stage sees the 499 as the outcome "cancelled".
        log.info("caller left %s; upstream call cancelled", path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
