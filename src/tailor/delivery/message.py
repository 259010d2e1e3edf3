"""One rendered email as a record, and the MIME message an SMTP relay receives for it.

The record is what every producer hands the sender — a batch shard's row, a trigger
scan's render, a studio test send — so the sender never knows where emails come from.
The message is built by the standard library (``EmailMessage``, ``policy.SMTP``): RFC
2047 encoded words for non-ASCII headers, ``multipart/alternative`` with the text part
first (clients show the last part they can), CRLF line ends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RenderedEmail:
    """One email ready to go: who, what, and the id that makes sending it idempotent.

    ``send_id`` names this email to this recipient (a campaign's send id and the
    recipient, a trigger episode): the journal sends each ``send_id`` at most once, and
    the Message-ID is derived from it. ``headers`` are added as they are (e.g. the
    ``List-Unsubscribe`` pair a render computed); ``marketing`` is False for
    transactional templates, which the frequency cap does not count.
    """

    send_id: str
    to: str
    subject: str
    html: str
    text: str
    preheader: str = ""
    profile_id: str | None = None
    template: str = ""
    marketing: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> RenderedEmail:
        """A record from a shard row or a JSON line (``recipient`` or ``to`` is the address)."""
        return cls(
            send_id=str(row["send_id"]),
            to=str(row.get("to") or row.get("recipient") or ""),
            subject=str(row.get("subject") or ""),
            html=str(row.get("html") or ""),
            text=str(row.get("text") or ""),
            preheader=str(row.get("preheader") or ""),
            profile_id=None if row.get("profile_id") is None else str(row["profile_id"]),
            template=str(row.get("template") or ""),
            marketing=bool(row.get("marketing", True)),
            headers=dict(row.get("headers") or {}),
        )


def message_id(send_id: str, domain: str) -> str:
    """``<hash@domain>``: the same send always gets the same id, and the id reveals nothing of it."""
    digest = hashlib.sha256(send_id.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.tailor@{domain}>"


def sender_domain(sender: str | None) -> str:
    """The domain of ``Shop <news@shop.example>`` (``localhost`` when there is none)."""
    domain = parseaddr(sender or "")[1].rpartition("@")[2].lower()
    return domain or "localhost"


def build_message(email: RenderedEmail, sender: str, *, now: datetime | None = None) -> EmailMessage:
    """The MIME message for ``email`` from ``sender``: text + HTML alternatives, encoded headers."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _address(sender, "sender")
    msg["To"] = _address(email.to, "recipient")
    msg["Subject"] = _header_value("Subject", email.subject)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = message_id(email.send_id, sender_domain(sender))
    msg["MIME-Version"] = "1.0"
    for name, value in email.headers.items():
        if name.lower() in _OWN_HEADERS:
            continue  # the message's identity comes from the record, never from a stray header
        # one header per name, the last given: header names ignore case, and a record's own
        # "list-unsubscribe" once went out beside the sender's List-Unsubscribe
        del msg[_header_name(name)]
        msg[name] = _header_value(name, value)
    msg.set_content(email.text or " ", subtype="plain", charset="utf-8")
    msg.add_alternative(email.html, subtype="html", charset="utf-8")
    return msg


_OWN_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}


#: C0 and C1 controls, DEL and the Unicode line separators. In an address each one changes
#: who gets the email ("Ann\r\nBcc: x@evil.example <ann@…>" parsed as x@evil.example,
#: "ann@example.com\tx" as ann@example.comx); in a header value the standard library refuses
#: CR and LF itself, but a NUL or an ESC went onto the wire raw.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
#: RFC 5322 field names: printable ASCII but the colon
_FIELD_NAME = re.compile(r"[!-9;-~]+")


def _address(value: str, role: str) -> Address:
    """``Ann Müller <ann@example.com>`` as an Address (its display name gets RFC 2047 encoding).

    ``ValueError`` (the record fails, the run goes on) for what no relay can be given
    safely: a control character, no address, or a non-ASCII local part (it needs SMTPUTF8,
    which tailor does not use; smtplib once raised on it between MAIL and RCPT, which
    stopped the run and left the connection mid-transaction for the next recipient). An
    internationalized domain is sent in its IDNA form. The message never quotes the
    address: it is kept in the delivery journal, which holds addresses only as hashes.
    """
    if _CONTROL.search(value):
        raise ValueError(f"the {role} address holds a control character")
    name, address = parseaddr(value)
    if not address or "@" not in address:
        raise ValueError(f"the {role} is not an email address")
    user, _, domain = address.rpartition("@")
    if not user.isascii():
        raise ValueError(f"the {role} address has a non-ASCII local part (SMTPUTF8), which tailor does not send")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"the {role} address has a domain that is not a valid IDNA name") from None
    return Address(display_name=name, username=user, domain=domain)


def _header_name(name: str) -> str:
    """``name`` when it is an RFC 5322 field name (a CR, LF or colon in it would add headers)."""
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a header name: {name[:40]!r}")
    return name


def _header_value(name: str, value: str) -> str:
    if _CONTROL_BUT_TAB.search(value):
        raise ValueError(f"the {name} header holds a control character")
    return value


def read_rendered(path: str | Path) -> Iterator[RenderedEmail]:
    """Records from a JSON-lines or Parquet shard of rendered emails, one at a time.

    A malformed line is a :class:`~tailor.problems.ProblemError` at ``path:line:col``,
    raised before that line would be sent (earlier lines have been yielded already). Lines
    are read by the strict parser every file goes through (NaN, lone surrogates and
    invalid UTF-8 are refused), and each field must have its type: a ``headers`` string
    once stopped the run with a traceback, and a ``send_id`` object was sent under
    ``"{'x': 1}"``.
    """
    from tailor.problems import Problem, ProblemError
    from tailor.strict_json import InvalidJSON, loads

    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        number = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=500):
            for row in batch.to_pylist():
                number += 1
                wrong = _wrong_field(row)
                if wrong:
                    raise ProblemError([Problem(str(path), number, 0, f"row {number}: {wrong[1]}")])
                yield RenderedEmail.from_mapping(row)
        return
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProblemError([Problem(str(path), lineno, exc.start + 1, "not UTF-8 text")]) from None
            try:
                row = loads(text)
            except InvalidJSON as exc:
                raise ProblemError(
                    [Problem(str(path), lineno, exc.col or 1, f"malformed JSON: {exc.message}")]
                ) from None
            wrong = _wrong_field(row)
            if wrong:
                field, message = wrong
                col = text.find(f'"{field}"') + 1 if field else 1
                raise ProblemError([Problem(str(path), lineno, col or 1, message)])
            yield RenderedEmail.from_mapping(row)


_TEXT_FIELDS = ("subject", "preheader", "html", "text", "profile_id", "template")


def _wrong_field(row: Any) -> tuple[str, str] | None:
    """``(field, what is wrong)`` for a record that is not one, else None."""
    if not isinstance(row, dict) or not row.get("send_id") or not (row.get("to") or row.get("recipient")):
        return "", "each line needs an object with send_id and to (the address)"
    for name in ("send_id", "to", "recipient"):
        if row.get(name) is not None and not isinstance(row[name], str):
            return name, f"{name} must be a string, got {type(row[name]).__name__}"
    for name in _TEXT_FIELDS:
        if row.get(name) is not None and not isinstance(row[name], str):
            return name, f"{name} must be a string or null, got {type(row[name]).__name__}"
    too_long = record_too_long(row)
    if too_long:
        return too_long
    if row.get("marketing") is not None and not isinstance(row["marketing"], bool):
        return "marketing", f"marketing must be true or false, got {type(row['marketing']).__name__}"
    headers = row.get("headers")
    if headers is not None and not (
        isinstance(headers, dict) and all(isinstance(value, str) for value in headers.values())
    ):
        return "headers", "headers must be an object of strings (header name: value)"
    return None


#: the fields the delivery journal keeps, each in a column of MAX_ID_LENGTH characters
_JOURNALED = ("send_id", "profile_id", "template")


def record_too_long(record: Any) -> tuple[str, str] | None:
    """``(field, what is wrong)`` when a journaled field is longer than its column, else None.

    PostgreSQL refuses such a value (SQLite keeps it): a 300-character send id stopped
    ``tailor deliver`` with a DataError traceback.
    """
    from tailor.profile import MAX_ID_LENGTH

    for name in _JOURNALED:
        value = record.get(name) if isinstance(record, dict) else getattr(record, name, None)
        if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
            return name, f"{name} is longer than {MAX_ID_LENGTH} characters"
    return None
