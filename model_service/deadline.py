"""A deadline on reading a request's body, as plain ASGI middleware.

uvicorn closes a connection left idle between requests (its
`timeout_keep_alive`), but once a request's head has arrived it waits for
the body as long as the client takes: a body trickled a byte at a time
holds its connection (and the memory of what came so far) for ever. On
asyncio that ties up no worker, but an unbounded number of such requests
is a cheap way to exhaust file descriptors and memory.

So the whole body must arrive within `seconds` of the request's head
(`MODEL_SERVICE_BODY_TIMEOUT_SECONDS`). When it does not, the `receive`
that waits for it raises `RequestTimeout`, which the routes' error handling
answers as a 408 problem+json like any other refused request, and the
answer carries `Connection: close` so uvicorn drops the connection and the
rest of the trickle with it. Receiving after the body is complete (a
streaming answer listening for a disconnect) has no deadline.

Placed inside `RequestContext`, so the 408 is logged and counted as one.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_service.errors import RequestTimeout


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_complete = False
        timed_out = False

        async def receive_in_time() -> Message:
            nonlocal body_complete, timed_out
            if body_complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise RequestTimeout(
                    f"The body did not arrive within the limit of {self.seconds:g} seconds "
                    "(MODEL_SERVICE_BODY_TIMEOUT_SECONDS); send it in one go."
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_complete = True
            return message

        async def send_closing(message: Message) -> None:
            if timed_out and message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive_in_time, send_closing)
