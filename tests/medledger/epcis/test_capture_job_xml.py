"""A capture job in EPCIS 2.0 XML: the form of GS1's CaptureJob examples, valid under GS1's 2.0
XSD, with the gateway's own fields as extension elements where the XSD allows them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from medledger.epcis import xsd
from medledger.epcis.capture_job_xml import (
    GATEWAY_NS,
    capture_job_element,
    write_capture_job,
    write_capture_jobs,
)
from medledger.epcis.xml_read import EPCIS_2
from tests.medledger.epcis.epcis_vectors import vector_files

# The examples the writer can say (an ``errorFile`` it never writes: errors are listed inline).
EXAMPLES = [
    p
    for p in vector_files("epcis/xml/examples-2.0", "CaptureJob__*.xml")
    if b"errorFile" not in p.read_bytes()
]


def _parse(body: bytes) -> Any:
    return etree.fromstring(body, etree.XMLParser(remove_blank_text=True, resolve_entities=False))


def _fields(example: Any) -> dict[str, Any]:
    """The JSON CaptureJob fields of one of GS1's XML examples."""
    errors = [
        {etree.QName(f).localname: int(f.text) if f.tag == "status" else f.text for f in error}
        for error in example.iterfind("errors/error")
    ]
    return {
        "running": example.get("running") == "true",
        "success": example.get("success") == "true",
        "captureID": example.get("captureID"),
        "captureErrorBehaviour": example.findtext("captureErrorBehaviour"),
        "createdAt": example.findtext("createdAt"),
        "finishedAt": example.findtext("finishedAt"),
        "errors": errors,
    }


def _canonical(element: Any) -> bytes:
    return bytes(etree.tostring(element, method="c14n", exclusive=True))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_gs1s_capture_job_examples_are_written_back_as_they_are(path: Path) -> None:
    example = _parse(path.read_bytes())
    xsd.validate(example, "2.0")
    written = capture_job_element(_fields(example))
    assert _canonical(written) == _canonical(example)


def test_the_gateways_job_is_valid_under_gs1s_xsd_with_its_own_fields_as_extensions() -> None:
    job = {
        "captureID": "42", "running": False, "success": False, "captureErrorBehaviour": "proceed",
        "createdAt": datetime(2026, 12, 4, 12, 0, 0, 123000),  # naive: UTC
        "finishedAt": datetime(2026, 12, 4, 12, 0, 0, 123000),
        "errors": [{"type": "https://provenance.example/problems/validation", "title": "bad",
                    "status": 400, "detail": "no", "rule": "schema.required", "pointer": "/x"}],
        "participant": "API maker", "status": "accepted", "eventIDs": ["ni:///sha-256;ab"],
    }  # fmt: skip
    root = _parse(write_capture_job(job))
    xsd.validate(root, "2.0")
    assert root.tag == f"{{{EPCIS_2}}}EPCISCaptureJob"
    assert root.findtext("createdAt") == "2026-12-04T12:00:00.123000Z"
    error = root.find("errors/error")
    assert (error.findtext("status"), error.findtext(f"{{{GATEWAY_NS}}}rule")) == (
        "400",
        "schema.required",
    )
    assert root.findtext(f"{{{GATEWAY_NS}}}status") == "accepted"
    assert root.findtext(f"{{{GATEWAY_NS}}}eventIDs/{{{GATEWAY_NS}}}eventID") == "ni:///sha-256;ab"


def test_a_list_of_jobs_is_one_gs1_capture_job_each_in_the_gateways_wrapper() -> None:
    jobs = [{"captureID": str(n), "running": False, "success": True, "errors": []} for n in (1, 2)]
    root = _parse(write_capture_jobs(jobs))
    assert root.tag == f"{{{GATEWAY_NS}}}captureJobs"
    assert [job.get("captureID") for job in root] == ["1", "2"]
    for job in root:
        xsd.validate(job, "2.0")
    assert len(_parse(write_capture_jobs([]))) == 0
