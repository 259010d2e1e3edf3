"""The SMTP relay: its URL, one reused connection, and what each reply code means.

One transaction is split at its point of no return. Everything before the final
``.`` of DATA can fail or be cut off without the server delivering anything (RFC 5321
§4.1.1.4: a message is the server's only once it has answered the final dot), so the
sender hears about that moment — ``before_commit`` — and journals it. A connection lost
*after* the dot and before the answer is the one case nobody can resolve: the message
may or may not have been accepted (:class:`Unconfirmed`).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from tailor.web.auth import is_loopback

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SmtpFailure(Exception):
    """An SMTP step failed; ``code`` is the server's reply code (0: no answer)."""

    def __init__(self, code: int, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code} {detail}".strip() if code else detail)


class Transient(SmtpFailure):
    """4xx, a refused or dropped connection before the final dot: nothing was delivered, try again later."""


class Permanent(SmtpFailure):
    """5xx: the server refuses this message for good; retrying would only be refused again."""


class Unconfirmed(SmtpFailure):
    """The connection was lost after the final dot: the message may or may not have been accepted."""


class RelayUnusable(Exception):
    """The relay refuses tailor itself (login, TLS): no message can go, stop the run."""


@dataclass(frozen=True)
class SmtpConfig:
    """``smtp://[user:password@]host[:port][?starttls=true&rate=10&timeout=30]`` or ``smtps://…``."""

    host: str
    port: int
    tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    #: messages per second at most (None: as fast as the relay answers)
    rate: float | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"{_redact(url)!r}: use smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError(f"{_redact(url)!r}: no host")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = sorted(set(query) - {"starttls", "rate", "timeout"})
        if unknown:
            raise ValueError(f"unknown option {unknown[0]!r} (known: starttls, rate, timeout)")
        starttls = _flag(query.get("starttls", "false"), "starttls")
        tls = parts.scheme == "smtps"
        if tls and starttls:
            raise ValueError("smtps:// is TLS from the first byte; starttls applies to smtp:// only")
        try:
            port = parts.port or (465 if tls else 25)
            rate = float(query["rate"]) if "rate" in query else None
            timeout = float(query.get("timeout", 30))
        except ValueError as exc:
            raise ValueError(f"{_redact(url)!r}: {exc}") from None
        if rate is not None and rate <= 0 or timeout <= 0:
            raise ValueError("rate and timeout must be positive")
        username = unquote(parts.username) if parts.username else None
        if username and not (tls or starttls) and not is_loopback(parts.hostname):
            # a password in clear text over the network: refuse rather than leak it
            raise ValueError("credentials need smtps:// or ?starttls=true outside loopback")
        return cls(
            parts.hostname,
            port,
            tls,
            starttls,
            username,
            unquote(parts.password) if parts.password else None,
            rate,
            timeout,
        )

    def describe(self) -> str:
        """For logs and messages: never the password."""
        scheme = "smtps" if self.tls else "smtp"
        who = f"{self.username}@" if self.username else ""
        return f"{scheme}://{who}{self.host}:{self.port}" + ("?starttls=true" if self.starttls else "")


def _flag(value: str, name: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"{name}={value!r}: use true or false")


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


class RateLimit:
    """At most ``per_second`` sends: each waits until 1/rate after the previous one started."""

    def __init__(
        self,
        per_second: float | None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.sleep = sleep
        self.clock = clock
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class SmtpTransport:
    """One connection to the relay, opened on first use and reopened after a failure."""

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None):
        self.config = config
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        cfg = self.config
        try:
            if cfg.tls:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=self.ssl_context)
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            # the final dot goes in its own small write after the journal's commit: without
            # NODELAY, Nagle holds it until the server's delayed ACK (~40 ms per email)
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if cfg.starttls:
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if cfg.username:
                conn.login(cfg.username, cfg.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayUnusable(f"{cfg.describe()}: login refused ({exc.smtp_code})") from None
        except (smtplib.SMTPNotSupportedError, ssl.SSLError) as exc:
            raise RelayUnusable(f"{cfg.describe()}: TLS failed: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            failure = Permanent if exc.smtp_code >= 500 else Transient
            raise failure(exc.smtp_code, _text(exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timed out, dropped
            raise Transient(0, f"cannot connect to {cfg.describe()}: {type(exc).__name__}: {exc}") from None
        self._conn = conn
        return conn

    def send(self, message: EmailMessage, *, before_commit: Callable[[], None] = lambda: None) -> str:
        """Send ``message`` to its ``To``; the server's acceptance text. Raises an :class:`SmtpFailure`.

        ``before_commit`` runs after the whole content was transmitted and before the
        final dot: what it journals is true of every message that may have been delivered.
        """
        sender = parseaddr(str(message["From"]))[1]
        recipient = parseaddr(str(message["To"]))[1]
        for address in (sender, recipient):
            # checked before the transaction starts: smtplib raises on a non-ASCII command
            # after MAIL was sent, which left the connection mid-transaction (503 for the next)
            if not address.isascii() or not address.isprintable() or " " in address:
                raise Permanent(0, "an envelope address must be printable ASCII (SMTPUTF8 is not used)")
        data = message.as_bytes(policy=policy.SMTP)
        conn = self._connection()
        committed = False
        try:
            self._step(conn, conn.mail(sender))
            self._step(conn, conn.rcpt(recipient))
            conn.putcmd("data")
            self._step(conn, conn.getreply(), expect=354)
            body = re.sub(rb"(?m)^\.", b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body)
            before_commit()
            committed = True
            conn.send(b".\r\n")
            code, reply = conn.getreply()
        except SmtpFailure:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            detail = f"connection lost: {type(exc).__name__}: {exc}"
            raise (Unconfirmed if committed else Transient)(0, detail) from None
        if code == 250:
            return _text(reply)
        self._reset(conn)
        raise (Permanent if code >= 500 else Transient)(code, _text(reply))

    def _step(self, conn: smtplib.SMTP, answer: tuple[int, bytes], expect: int | None = None) -> None:
        code, reply = answer
        if (expect is None and 200 <= code < 300) or code == expect:
            return
        self._reset(conn)
        raise (Permanent if code >= 500 else Transient)(code, _text(reply))

    def _reset(self, conn: smtplib.SMTP) -> None:
        """Abandon the transaction so the connection can carry the next message."""
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()


def _text(reply: bytes | str) -> str:
    """A relay's answer as one line, its email addresses masked: relays quote the recipient
    ("550 5.1.1 <ann@example.com>: Recipient address rejected"), and the answer is kept in
    the delivery journal — which holds addresses as hashes only — and printed per email."""
    from tailor.preview.masking import mask_emails

    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return mask_emails(" ".join(text.split()))[:300]
