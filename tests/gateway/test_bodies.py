"""servicekit/http/bodies.py's size cap as a bare ASGI middleware: which cap applies where, and that
a chunked body is cut off at it (issue 14, finding 2; the apps' tests cover the rest)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from servicekit.http.bodies import BodyLimitMiddleware


async def reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"read"})


def scope(path: str, root_path: str = "", length: int | None = None) -> dict[str, Any]:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    return {"type": "http", "path": path, "root_path": root_path, "headers": headers}


@pytest.mark.parametrize(
    ("path", "root_path", "limit"),
    [
        ("/capture", "", 64),
        ("/capture/", "", 64),
        ("/capture/123", "", 8),
        ("/recalls", "", 8),
        ("/api/capture", "/api", 64),
    ],
)
def test_the_larger_cap_applies_to_the_paths_named_only(
    path: str, root_path: str, limit: int
) -> None:
    middleware = BodyLimitMiddleware(reads_everything, limit=8, larger={"/capture": 64})
    assert middleware.limit_for(scope(path, root_path)) == limit


async def run(middleware: BodyLimitMiddleware, request: dict[str, Any], pieces: list[bytes]) -> Any:
    incoming = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
        for i, p in enumerate(pieces)
    ]
    reads = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(request, receive, send)
    return reads, sent[0]["status"], dict(sent[0]["headers"])


def test_a_chunked_body_is_cut_off_at_the_cap_and_an_announced_one_never_read() -> None:
    middleware = BodyLimitMiddleware(reads_everything, limit=8)
    chunked = asyncio.run(run(middleware, scope("/x"), [b"1234", b"5678", b"9", b"0"]))
    reads, status, headers = chunked
    assert (reads, status, headers[b"connection"]) == (3, 413, b"close")
    announced = asyncio.run(run(middleware, scope("/x", length=9), [b"123456789"]))
    assert announced == (0, 413, headers)
    reads, status, _ = asyncio.run(run(middleware, scope("/x"), [b"1234", b"5678"]))
    assert (reads, status) == (2, 200)
