"""The triage for programs: ``POST /alerts/{key}/{action}`` with a reader key, the page's rules
answered as problem+json (401, 403 auditor, 404, 409 resolving twice, 422 without a note)."""

from __future__ import annotations

import httpx
from sqlalchemy import delete

from dashboard.triage import log_of
from indexer.store.models import AlertTriageLogRow, AlertTriageRow
from tests.dashboard.conftest import CLONED, World
from tests.dashboard.test_alerts_page import clone_key


def test_the_actions_answer_json_and_refusals_problems(world: World) -> None:
    key = clone_key(world, CLONED[1])
    with world.indexer.write_sessions() as session, session.begin():  # as if nobody acted
        session.execute(delete(AlertTriageRow).where(AlertTriageRow.alert_key == key))
        session.execute(delete(AlertTriageLogRow).where(AlertTriageLogRow.alert_key == key))

    def post(role: str | None, action: str, **body: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {world.keys[role]}"} if role else {}
        return httpx.post(f"{world.url}/alerts/{key}/{action}", json=body, headers=headers)

    assert post(None, "ack").status_code == 401
    refused = post("auditor", "ack")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assigned = post("inspector", "assign", assignee="Chui inspectorate")  # its region's alert
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["state"] == "assigned"
    assert assigned.json()["assignee"] == "Chui inspectorate"
    no_note = post("regulator", "resolve")
    assert no_note.status_code == 422 and "a note is required" in no_note.json()["detail"]
    done = post("regulator", "resolve", note="closed over the API")
    assert done.status_code == 200 and done.json()["updatedBy"] == "Medicines Agency"
    twice = post("regulator", "resolve", note="again")
    assert twice.status_code == 409
    assert twice.json()["type"].endswith("/triage-state")
    assert "cannot resolve an alert that is resolved" in twice.json()["detail"]
    unknown = httpx.post(
        f"{world.url}/alerts/no-such-alert/ack",
        headers={"Authorization": f"Bearer {world.keys['regulator']}"},
    )
    assert unknown.status_code == 404
    assert post("regulator", "close").status_code == 422  # not an action
    with world.indexer.sessions() as session:
        log = log_of(session, key)
    assert [(e.action, e.actor) for e in log] == [
        ("assign", "Chui inspectorate"),
        ("resolve", "Medicines Agency"),
    ]
