"""`provenance up` that cannot start says why in one line and exits 2, with no traceback: a
port in use, a PostgreSQL that does not answer, a bad setting, an embedded data folder that
already holds a network. It shows its start-up steps as it goes, and cleans up after itself."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devkit.nodes import free_port
from provenance.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[str]]:
    ports = ["--gateway-port", str(free_port()), "--indexer-port", str(free_port())]
    command = ["provenance", "up", "--log-format", "text", *ports, *args]
    monkeypatch.setattr("sys.argv", command)
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    code = exited.value.code
    return int(code) if isinstance(code, int) else 1, captured.out.splitlines()


def test_a_port_in_use_is_one_line_naming_it_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], busy_port: int
) -> None:
    code, lines = up(monkeypatch, capsys, "--embedded", "--gateway-port", str(busy_port))
    assert code == 2
    assert lines == [
        f"cannot start the network: port {busy_port} on 127.0.0.1 (the gateway) is in use: "
        "stop what listens there or pass --gateway-port"
    ]


def test_an_unreachable_postgresql_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    closed = free_port()
    url = f"postgresql+psycopg://provenance:s3cret@127.0.0.1:{closed}/ledger"
    code, lines = up(monkeypatch, capsys, "--chain-url", "http://127.0.0.1:9", "--data-dir",
                     str(tmp_path / "data"), "--database-url", url)  # fmt: skip
    assert code == 2, lines
    failure = lines[-1]
    assert failure.startswith(
        f"cannot start the network: the database at postgresql+psycopg://provenance:[redacted]@"
        f"127.0.0.1:{closed}/ledger does not answer: "
    ), lines
    assert "s3cret" not in "\n".join(lines)
    assert "opening the stores (PostgreSQL)" in lines[-2]


def test_a_bad_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PROVENANCE_GATEWAY_BATCH_MAX_EVENTS", "lots")
    code, lines = up(monkeypatch, capsys, "--chain-url", "http://127.0.0.1:9", "--data-dir",
                     str(tmp_path / "data"))  # fmt: skip
    assert code == 2
    assert lines[-1].startswith("cannot start the network: invalid setting batch_max_events: ")


def test_embedded_refuses_a_data_folder_that_holds_a_network(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "gateway").mkdir()
    code, lines = up(monkeypatch, capsys, "--embedded", "--data-dir", str(tmp_path))  # fmt: skip
    assert code == 2
    assert lines == [
        f"cannot start the network: --embedded starts a new ledger each time, and {tmp_path} "
        "already holds data: pass an empty or new --data-dir, or leave it out (a temporary "
        "folder)"
    ]


def test_embedded_shows_its_steps_and_pages_logs_each_request_and_removes_its_folder(
    tmp_path: Path,
) -> None:
    gateway, indexer = free_port(), free_port()
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "provenance", "up", "--embedded", "--gateway-port",
             str(gateway), "--indexer-port", str(indexer)],
            cwd=ROOT, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "press Ctrl-C" not in out.read_text():
            assert process.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{gateway}/healthz").status_code == 200
        # the summary names the dashboard and the check page, and both answer there
        summary = out.read_text()
        pages = dict(re.findall(r"(dashboard|pack check page) +│? *(http://\S+)", summary))
        assert pages == {
            "dashboard": f"http://127.0.0.1:{indexer}/dashboard",
            "pack check page": f"http://127.0.0.1:{indexer}/check",
        }, summary
        to_sign_in = httpx.get(pages["dashboard"], follow_redirects=True)
        assert to_sign_in.status_code == 200 and 'id="key"' in to_sign_in.text  # its sign-in
        check = httpx.get(pages["pack check page"], headers={"Accept": "text/html"})
        assert check.status_code == 200 and check.headers["content-type"].startswith("text/html")
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, out.read_text() + err.read_text()
    printed = out.read_text()
    steps = re.findall(r"^ *\d+\.\ds (.*)$", printed, flags=re.MULTILINE)
    assert steps[0].startswith("in-process chain: nothing is kept;")
    assert steps[-2:] == [f"gateway answers on http://127.0.0.1:{gateway}",
                          f"indexer answers on http://127.0.0.1:{indexer}"]  # fmt: skip
    (folder,) = re.findall(r"its stores and keys are in (\S+), removed", printed)
    assert not Path(folder).exists()
    assert "stopped; the in-process ledger is gone" in printed
    logged = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert any(r["logger"] == "provenance.http" and r["route"] == "/healthz" for r in logged)


def serve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["provenance", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return int(exited.value.code or 0), lines[0]


@pytest.mark.parametrize("service", ["gateway", "indexer"])
def test_a_service_alone_fails_in_one_line_too(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    busy_port: int,
    tmp_path: Path,
    service: str,
) -> None:
    code, line = serve(monkeypatch, capsys, service, "--port", str(busy_port),
                       "--data-dir", str(tmp_path))  # fmt: skip
    assert (code, line) == (2, f"cannot start the {service}: port {busy_port} on 127.0.0.1 "
                               f"(the {service}) is in use: stop what listens there or pass "
                               "--port")  # fmt: skip
    closed = free_port()
    url = f"postgresql+psycopg://provenance:s3cret@127.0.0.1:{closed}/ledger"
    code, line = serve(monkeypatch, capsys, service, "--port", str(free_port()), "--data-dir",
                       str(tmp_path), "--chain-url", "http://127.0.0.1:9",
                       "--database-url", url)  # fmt: skip
    assert code == 2 and "s3cret" not in line
    assert line.startswith(f"cannot start the {service}: "), line


def test_the_gateway_on_the_in_process_chain_removes_its_temporary_folder(tmp_path: Path) -> None:
    port, err = free_port(), tmp_path / "err.txt"
    with err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "provenance", "gateway", "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not re.search(r"its store and keys: (\S+), removed on exit", err.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
        (folder,) = re.findall(r"its store and keys: (\S+), removed on exit", err.read_text())
        assert Path(folder).is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) in (0, 130), err.read_text()  # 130: ended by Ctrl-C
    assert not Path(folder).exists()
