"""A capture job (the EPCIS 2.0 REST binding's CaptureJob) as EPCIS 2.0 XML.

:func:`write_capture_job` writes one ``epcis:EPCISCaptureJob`` in the form of GS1's examples
(``CaptureJob__Example-*.xml``), valid under GS1's 2.0 XSD (``EPCISCaptureJobType``): the
attributes ``running``, ``success`` and ``captureID``, then ``captureErrorBehaviour``,
``createdAt``, ``finishedAt`` (UTC, ``Z``; a naive time is taken as UTC) and, if there are any,
``errors``, one ``error`` per RFC 9457 problem (``type``, ``title``, ``status``, ``detail``; its
``rule`` and ``pointer`` as extension elements of :data:`GATEWAY_NS`, where the XSD allows
``##other``). The gateway's own fields follow as extension elements of the same namespace:
``participant``, ``status`` and ``eventIDs`` (one ``eventID`` each).

:func:`write_capture_jobs` writes a list (``GET /capture``): the binding defines no XML list,
so the root is the gateway's own ``captureJobs`` (:data:`GATEWAY_NS`) around one
``epcis:EPCISCaptureJob`` per job, each valid under GS1's XSD on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from medledger.epcis.xml_read import EPCIS_2

#: The namespace of the gateway's fields that GS1's CaptureJob does not have.
GATEWAY_NS = "https://provenance.example/ns/capture"
_NSMAP = {"epcis": EPCIS_2, "gw": GATEWAY_NS}
_PROBLEM_FIELDS = ("type", "title", "status", "detail", "instance")
_PROBLEM_EXTENSIONS = ("rule", "pointer")


def write_capture_job(job: Mapping[str, Any]) -> bytes:
    """The EPCIS 2.0 XML (UTF-8, with an XML declaration) of one CaptureJob."""
    return _bytes(capture_job_element(job))


def write_capture_jobs(jobs: Iterable[Mapping[str, Any]]) -> bytes:
    """The XML of a list of CaptureJobs: ``gw:captureJobs`` around one element each."""
    root = etree.Element(f"{{{GATEWAY_NS}}}captureJobs", nsmap=_NSMAP)
    for job in jobs:
        root.append(capture_job_element(job))
    return _bytes(root)


def capture_job_element(job: Mapping[str, Any]) -> Any:
    """The ``epcis:EPCISCaptureJob`` element (lxml) of a CaptureJob's JSON fields."""
    root = etree.Element(f"{{{EPCIS_2}}}EPCISCaptureJob", nsmap=_NSMAP)
    root.set("running", _boolean(job["running"]))
    root.set("success", _boolean(job["success"]))
    root.set("captureID", str(job["captureID"]))
    _child(root, "captureErrorBehaviour", job.get("captureErrorBehaviour") or "rollback")
    for name in ("createdAt", "finishedAt"):
        if job.get(name) is not None:
            _child(root, name, _time(job[name]))
    errors = [e for e in job.get("errors") or () if isinstance(e, Mapping)]
    if errors:
        listed = etree.SubElement(root, "errors")
        for problem in errors:
            _error(etree.SubElement(listed, "error"), problem)
    for name in ("participant", "status"):
        if job.get(name) is not None:
            _child(root, f"{{{GATEWAY_NS}}}{name}", str(job[name]))
    if "eventIDs" in job:
        ids = etree.SubElement(root, f"{{{GATEWAY_NS}}}eventIDs")
        for event_id in job["eventIDs"]:
            _child(ids, f"{{{GATEWAY_NS}}}eventID", str(event_id))
    return root


def _error(element: Any, problem: Mapping[str, Any]) -> None:
    _child(element, "type", str(problem.get("type") or "about:blank"))
    _child(element, "title", str(problem.get("title") or ""))
    for name in _PROBLEM_FIELDS[2:]:
        if problem.get(name) is not None:
            _child(element, name, str(problem[name]))
    for name in _PROBLEM_EXTENSIONS:
        if problem.get(name) is not None:
            _child(element, f"{{{GATEWAY_NS}}}{name}", str(problem[name]))


def _child(parent: Any, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def _boolean(value: Any) -> str:
    return "true" if value else "false"


def _time(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _bytes(root: Any) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
