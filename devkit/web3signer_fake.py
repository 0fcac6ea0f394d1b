"""A small fake of Web3Signer's Eth1 mode, for tests: a real HTTP server on a loopback port.

It follows Web3Signer's documented API (docs.web3signer.consensys.io, "JSON-RPC API" and the Eth1
REST ``/upcheck``) as far as :class:`chain.signer.Web3Signer` uses it:

- ``GET /upcheck`` answers ``200 OK`` (text/plain);
- ``eth_accounts`` lists the addresses of the keys it holds (lower case, as documented);
- ``eth_signTransaction`` takes one transaction object (``from``, ``to``, ``gas`` default 90000,
  ``gasPrice`` default 0, ``maxFeePerGas`` + ``maxPriorityFeePerGas`` for EIP-1559, ``nonce``
  required, ``value``, ``data``), signs it for the chain id it was started with (Web3Signer's
  ``eth1 --chain-id``) and answers the RLP-encoded signed transaction in hex. An address it holds
  no key for gets ``-32000 "No unlocked account matches the Sender"``, a missing nonce or a
  malformed field ``-32602 "Invalid params"`` (Web3Signer's codes).

Unlike Web3Signer it proxies nothing to a node (any other method is ``-32601``) and keeps its
keys in memory, signing with eth-account. It is test infrastructure only: the code under test is
the real client. :meth:`Web3SignerFake.fail_with` and :meth:`Web3SignerFake.stall` make it answer
HTTP errors or answer late, to test what the gateway does then.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

NO_KEY = (-32000, "No unlocked account matches the Sender")
INVALID_PARAMS = (-32602, "Invalid params")
METHOD_NOT_FOUND = (-32601, "Method not found")
INVALID_REQUEST = (-32600, "Invalid Request")
DEFAULT_GAS = 90_000


class InvalidParams(ValueError):
    pass


class Web3SignerFake:
    """Holds keys by address and signs for ``chain_id``; start with :func:`running_web3signer`."""

    def __init__(self, chain_id: int, keys: Iterable[LocalAccount] = ()) -> None:
        self.chain_id = chain_id
        self._keys: dict[str, LocalAccount] = {}
        self._lock = threading.Lock()
        self._failure: tuple[int, str] | None = None
        self._delay = 0.0
        #: Methods called, in order (``eth_signTransaction`` included when it failed).
        self.calls: list[str] = []
        self.signed = 0
        for key in keys:
            self.add_key(key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- keys and faults ------------------------------------------------------------------

    def add_key(self, key: LocalAccount) -> None:
        with self._lock:
            self._keys[key.address.lower()] = key

    def remove_key(self, address: str) -> None:
        with self._lock:
            self._keys.pop(address.lower(), None)

    def fail_with(self, status: int, body: str = "") -> None:
        """Answer every request with HTTP ``status`` and ``body`` until :meth:`heal`."""
        self._failure = (status, body)

    def stall(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each request until :meth:`heal`."""
        self._delay = seconds

    def heal(self) -> None:
        self._failure = None
        self._delay = 0.0

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # --- the API ------------------------------------------------------------------------

    def answer(self, request: Any) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON-RPC answer to one request object."""
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return 400, _error(None, INVALID_REQUEST)
        ident = request.get("id")
        method = request["method"]
        self.calls.append(method)
        params = request.get("params", [])
        if method == "eth_accounts":
            with self._lock:
                return 200, {"jsonrpc": "2.0", "id": ident, "result": sorted(self._keys)}
        if method != "eth_signTransaction":
            return 400, _error(ident, METHOD_NOT_FOUND)
        try:
            tx, sender = self._transaction(params)
        except InvalidParams:
            return 400, _error(ident, INVALID_PARAMS)
        with self._lock:
            key = self._keys.get(sender)
        if key is None:
            return 400, _error(ident, NO_KEY)
        signed = key.sign_transaction(tx)
        self.signed += 1
        return 200, {"jsonrpc": "2.0", "id": ident, "result": "0x" + signed.raw_transaction.hex()}

    def _transaction(self, params: Any) -> tuple[dict[str, Any], str]:
        if isinstance(params, list):
            if len(params) != 1:
                raise InvalidParams
            params = params[0]
        if not isinstance(params, dict) or not isinstance(params.get("from"), str):
            raise InvalidParams
        if "nonce" not in params:  # Web3Signer: "Nonce not present in request"
            raise InvalidParams
        try:
            tx: dict[str, Any] = {
                "chainId": self.chain_id,
                "nonce": _number(params["nonce"]),
                "gas": _number(params.get("gas", hex(DEFAULT_GAS))),
                "value": _number(params.get("value", "0x0")),
                "data": bytes.fromhex(str(params.get("data") or "0x").removeprefix("0x")),
            }
            if params.get("to"):
                tx["to"] = Web3.to_checksum_address(str(params["to"]))
            if "maxFeePerGas" in params and "maxPriorityFeePerGas" in params:
                tx["maxFeePerGas"] = _number(params["maxFeePerGas"])
                tx["maxPriorityFeePerGas"] = _number(params["maxPriorityFeePerGas"])
            else:
                tx["gasPrice"] = _number(params.get("gasPrice", "0x0"))
        except (TypeError, ValueError) as exc:
            raise InvalidParams from exc
        return tx, str(params["from"]).lower()

    def delay_and_failure(self) -> tuple[float, tuple[int, str] | None]:
        return self._delay, self._failure


def _number(value: Any) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"{value!r} is not a hex quantity")
    return int(value, 16)


def _error(ident: Any, error: tuple[int, str]) -> dict[str, Any]:
    code, message = error
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}


def _handler(fake: Web3SignerFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def _fault(self) -> bool:
            delay, failure = fake.delay_and_failure()
            if delay:
                time.sleep(delay)
            if failure is None:
                return False
            status, body = failure
            self._send(status, body.encode(), "text/plain; charset=utf-8")
            return True

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout): nothing to tell it

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self._fault():
                return
            if self.path == "/upcheck":
                self._send(200, b"OK", "text/plain; charset=utf-8")
            else:
                self._send(404, b"Not Found", "text/plain; charset=utf-8")

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self._fault():
                return
            try:
                request = json.loads(raw)
            except ValueError:
                status, answer = 400, _error(None, (-32700, "Parse error"))
            else:
                status, answer = fake.answer(request)
            self._send(status, json.dumps(answer).encode(), "application/json")

    return Handler


@contextmanager
def running_web3signer(
    chain_id: int, keys: Iterable[LocalAccount] = ()
) -> Iterator[Web3SignerFake]:
    """A started fake, stopped afterwards."""
    fake = Web3SignerFake(chain_id, keys)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
