"""The one HTTP client of the verbs that call a service (``check``, ``alerts``, ``recall``,
``release``, ``codes``, ``origin-proof``, ``export``).

- :class:`Service`: a service's base URL and the verb's timeout (an ``httpx.Client``; a FastAPI
  ``TestClient`` in tests), the bearer key sent with every request, and the name its messages
  use; a request that gets no answer (refused connection, timeout, any transport error) is a
  :class:`ServiceError` "the indexer does not answer: ...", exit code 2.
- :func:`read_key`: the API key of a key file (stripped); unreadable or empty is a
  :class:`ServiceError`, exit code 2.
- :func:`problem`: what a refusal says, from its problem+json body, cut to
  :data:`PROBLEM_CAP` characters.
- :func:`accepted` and :func:`refused`: a gateway's refusal (any answer but a success) as a
  :class:`ServiceError` with the verb's exit code.

What each verb makes of an answer's status (a 422 is a malformed code to ``check``, a 401 a
refused key to ``alerts``) stays with the verb.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from provenance.exits import EXIT_REFUSED, EXIT_UNUSABLE

#: Seconds a verb waits for its service (connect, read, write, pool each). ``check`` and
#: ``alerts`` ask one indexed query per request; ``origin-proof`` asks a trace and a receipt per
#: event of the tree; ``recall``, ``release`` and ``codes`` wait for the gateway's transactions.
CHECK_TIMEOUT = 10.0
ALERTS_TIMEOUT = 10.0
ORIGIN_TIMEOUT = 30.0
GATEWAY_WRITE_TIMEOUT = 60.0

#: The longest text :func:`problem` returns: a refusal's detail is one line for a person, not a
#: page (a proxy's HTML error page, a validation error echoing a long input).
PROBLEM_CAP = 300

#: Statuses that say the request itself was malformed: 422 on every route, 400 on
#: ``POST /capture`` (the EPCIS REST binding's code for a refused document).
MALFORMED = frozenset({400, 422})


class ServiceError(Exception):
    """A service cannot be used: ``str()`` is the message for the user, ``exit_code`` what the
    verb exits with (2, or 1 for a refusal the verb reports as such)."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def connect(url: str, *, timeout: float) -> httpx.Client:
    """A client for the service at ``url`` (the base of every path asked) waiting ``timeout``
    seconds."""
    return httpx.Client(base_url=url.rstrip("/"), timeout=timeout)


def read_key(path: Path) -> str:
    """The API key in ``path`` (its text, stripped); unreadable or empty: a ServiceError."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ServiceError(f"cannot read the key file {path}: {exc.strerror}") from exc
    if not key:
        raise ServiceError(f"the key file {path} is empty")
    return key


def problem(response: httpx.Response) -> str:
    """What a refusal says: the ``detail`` of its problem+json body (else its ``title``, else
    the JSON as text; the body itself if it is not JSON), at most :data:`PROBLEM_CAP` chars."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:PROBLEM_CAP]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:PROBLEM_CAP]
    return str(body)[:PROBLEM_CAP]


def refused(response: httpx.Response) -> ServiceError:
    """A gateway's refusal, ``refused (404): ...``: exit code 2 for a 422 or a 400 (malformed
    input; ``POST /capture`` refuses a document with the EPCIS binding's 400) or a 5xx (the
    gateway or its chain failed: nothing recorded), else 1 (refused)."""
    status = response.status_code
    code = EXIT_UNUSABLE if status in MALFORMED or status >= 500 else EXIT_REFUSED
    return ServiceError(f"refused ({status}): {problem(response)}", code)


def accepted(response: httpx.Response) -> httpx.Response:
    """``response`` if it is a success (2xx), else its refusal raised (:func:`refused`)."""
    if not response.is_success:
        raise refused(response)
    return response


class Service:
    """One service over HTTP: ``name`` (``gateway``, ``indexer``) in messages, the client (base
    URL, timeout) and the bearer key (none: no ``Authorization`` header).

    :meth:`at` makes a client of its own (closed by :meth:`close`); a client passed in (a
    ``TestClient`` in tests) is left open.
    """

    def __init__(
        self, name: str, client: httpx.Client, api_key: str | None = None, *, owned: bool = False
    ) -> None:
        self.name = name
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.owned = owned

    @classmethod
    def at(cls, name: str, url: str, *, timeout: float, api_key: str | None = None) -> Self:
        """A client of its own for the service at ``url``."""
        return cls(name, connect(url, timeout=timeout), api_key, owned=True)

    @classmethod
    def using(
        cls,
        name: str,
        client: httpx.Client | None,
        url: str,
        *,
        timeout: float,
        api_key: str | None = None,
    ) -> Self:
        """``client`` if given (a TestClient in tests: ``url`` is not used), else one at ``url``."""
        if client is not None:
            return cls(name, client, api_key)
        return cls.at(name, url, timeout=timeout, api_key=api_key)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer, whatever its status; no answer at all is a ServiceError (exit code 2).
        ``headers`` are sent besides the bearer key."""
        headers = self.headers | kwargs.pop("headers", {})
        try:
            return self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(f"the {self.name} does not answer: {exc}") from exc

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        """Close the client if it is this service's own."""
        if self.owned:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
