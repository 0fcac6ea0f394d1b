"""A real gateway process (``python -m provenance gateway``, uvicorn, in-process chain) under the
bodies of issue 14, findings 1 and 2: it survives a 100,000-deep body (422, where it used to die
of SIGSEGV), and 100 MB bodies, announced or chunked, are answered 413 while its memory stays
flat (its RSS, from /proc, grew by 290 MB per such request before)."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devkit.nodes import free_port

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
HUNDRED_MB = 100 * MIB
DEEP = b"[" * 100_000 + b"]" * 100_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc"
    ),
]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    key: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def alive(self) -> bool:
        return self.process.poll() is None and httpx.get(f"{self.url}/healthz").status_code == 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("gateway")
    port = free_port()
    log = data / "gateway.log"
    command = [sys.executable, "-m", "provenance", "gateway", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data / "data")], cwd=ROOT, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 180
        key_file = data / "data" / "regulator.api-key"
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the gateway did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        yield Server(process, port, key_file.read_text().strip(), log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post_raw(
    server: Server, path: str, size: int, *, announced: bool, key: str | None = None
) -> tuple[int, dict[str, object]]:
    """POST ``size`` bytes of spaces in 1 MiB pieces, with a Content-Length or chunked, and
    stop sending as soon as the server answers (as a client must when it is cut off)."""
    headers = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    headers.append("Content-Type: application/json")
    if key is not None:
        headers.append(f"Authorization: Bearer {key}")
    headers.append(f"Content-Length: {size}" if announced else "Transfer-Encoding: chunked")
    piece = b" " * MIB
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        sent = 0
        try:
            while sent < size and not select.select([sock], [], [], 0.005)[0]:
                chunk = piece[: min(MIB, size - sent)]
                sock.sendall(chunk if announced else b"%x\r\n%b\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            if not announced and sent >= size:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                    break
        except ConnectionResetError:
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body) if body.strip() else {}


def test_a_body_nested_100000_deep_leaves_the_gateway_alive(server: Server) -> None:
    """Finding 1: POST /recalls without a key killed the process (and `provenance up` with it)."""
    for path, headers, status in (
        ("/recalls", {}, 422),
        ("/capture", {"Authorization": f"Bearer {server.key}"}, 400),  # the EPCIS binding's
    ):
        response = httpx.post(
            server.url + path,
            content=DEEP,
            headers={"content-type": "application/json"} | headers,
            timeout=60,
        )
        assert response.status_code == status, response.text
        assert response.json()["rule"] == "document.depth"
        assert server.alive(), server.log.read_text()[-3000:]


def test_100_mb_bodies_are_413_and_the_process_does_not_grow(server: Server) -> None:
    """Finding 2. Announced (Content-Length) bodies are refused before a byte is read; chunked
    ones are cut off at the cap (1 MiB; capture's only with a valid key). The RSS growth over
    all of them stays under 20 MiB."""
    post_raw(server, "/recalls", 2 * MIB, announced=False)  # warm up the paths measured
    before = server.rss_mib()
    cases = [
        ("/recalls", True, None, MIB),
        ("/recalls", False, None, MIB),
        ("/capture", True, server.key, 16 * MIB),
        ("/capture", True, None, 16 * MIB),
    ]
    for path, announced, key, limit in cases:
        status, problem = post_raw(server, path, HUNDRED_MB, announced=announced, key=key)
        assert status == 413, (path, announced, problem)
        assert problem["limit"] == limit
        assert problem["type"] == "https://provenance.example/problems/too-large"
    status, _ = post_raw(server, "/capture", HUNDRED_MB, announced=False)
    assert status == 401  # no key: capture reads no body at all
    grown = server.rss_mib() - before
    print(f"gateway RSS {before:.1f} MiB, grown by {grown:.1f} MiB over five 100 MB bodies")
    assert grown < 20, f"RSS grew by {grown:.1f} MiB"
    assert server.alive()


def test_a_participant_s_chunked_capture_is_cut_off_at_the_capture_cap(server: Server) -> None:
    """With a valid key, /capture reads a chunked body up to its own cap (16 MiB by default,
    PROVENANCE_GATEWAY_MAX_CAPTURE_BODY_BYTES) and no further: the process holds at most about
    that much for it, then gives it back to the allocator."""
    before = server.rss_mib()
    status, problem = post_raw(server, "/capture", HUNDRED_MB, announced=False, key=server.key)
    assert status == 413, problem
    assert problem["limit"] == 16 * MIB
    grown = server.rss_mib() - before
    print(f"gateway RSS {before:.1f} MiB, grown by {grown:.1f} MiB after a cut-off capture")
    assert grown < 40, f"RSS grew by {grown:.1f} MiB"
    assert server.alive()
