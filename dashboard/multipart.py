"""A ``multipart/form-data`` body (RFC 7578) read with the standard library's e-mail parser:
the public complaint form's text fields and its one file. The body has already been capped by
the app's body limit; here the parts are counted and each field's size bounded, and anything
that is not a well-formed form is a ValidationError."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Final

from medledger.errors import ValidationError

MAX_PARTS: Final = 12
MAX_FIELD_BYTES: Final = 8 * 1024


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]
    files: dict[str, bytes]


def parse_form(body: bytes, content_type: str) -> Form:
    """The fields (first value of each) and files of a multipart form body."""
    if (
        not content_type.lower().startswith("multipart/form-data")
        or "boundary=" not in content_type
    ):
        raise ValidationError(
            "the form must be sent as multipart/form-data", rule="form.media-type", pointer="/"
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = message.get_payload()
    if not message.is_multipart() or not isinstance(parts, list) or message.defects:
        raise ValidationError("the form is not well-formed", rule="form.syntax", pointer="/")
    if len(parts) > MAX_PARTS:
        raise ValidationError(
            f"the form has more than {MAX_PARTS} fields", rule="form.syntax", pointer="/"
        )
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in parts:
        if not isinstance(part, Message):
            raise ValidationError("the form is not well-formed", rule="form.syntax", pointer="/")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields or name in files:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_param("filename", header="content-disposition") is not None:
            files[name] = data
        else:
            if len(data) > MAX_FIELD_BYTES:
                raise ValidationError(
                    f"the field {name} is too long", rule="form.syntax", pointer=f"/{name}"
                )
            fields[name] = data.decode("utf-8", "replace")
    return Form(fields, files)
