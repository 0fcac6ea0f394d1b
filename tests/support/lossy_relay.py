"""A loopback TCP relay that loses answers: the network between a client and a server when the
client gives up (or its connection drops) after sending a request, while the server finishes it.

The first ``lose`` connections are forwarded to the server until the client's request is whole
(headers and ``Content-Length`` body); then the client's socket is closed without an answer,
and the server's answer is read to its end and kept in :attr:`lost` (what nobody saw). Later
connections are relayed both ways as they are.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self


def _whole_request(data: bytes) -> bool:
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return True


def _read_answer(upstream: socket.socket) -> bytes:
    """The server's whole answer (headers and Content-Length body)."""
    data = b""
    while chunk := upstream.recv(65536):
        data += chunk
        if _whole_request(data):  # the same framing rule holds for an answer
            break
    return data


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LossyRelay:
    """Listens on 127.0.0.1 (:attr:`url`) and relays to ``127.0.0.1:port``."""

    def __init__(self, port: int, *, lose: int = 1) -> None:
        self.port = port
        self.lose = lose
        self.lost: list[bytes] = []
        self.answered = threading.Event()  # set once a lost answer is kept
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def lost_body(self) -> bytes:
        """The body of the first lost answer."""
        assert self.answered.wait(60), "the server never answered the lost request"
        return self.lost[0].partition(b"\r\n\r\n")[2]

    def _serve(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            if self.lose > 0:
                self.lose -= 1
                threading.Thread(target=self._lose, args=(client, upstream), daemon=True).start()
            else:
                threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
                threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()

    def _lose(self, client: socket.socket, upstream: socket.socket) -> None:
        data = b""
        while not _whole_request(data):
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
        upstream.sendall(data)
        client.close()  # the client hears nothing
        with upstream:
            self.lost.append(_read_answer(upstream))
        self.answered.set()

    def close(self) -> None:
        self._stopping = True
        self._listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
