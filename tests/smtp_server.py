"""A real SMTP server on loopback (aiosmtpd in a thread) whose answers a test scripts.

``Mailbox.replies`` queues the answers to the next final dots (``"451 …"``, ``"554 …"``);
an empty queue accepts. ``hold_after`` / ``hold_before`` make the server stop, for one
message, right after storing it (the client has sent the final dot and waits for the
answer) or at its RCPT (nothing transmitted yet) — where a test kills the client.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.replies: list[str] = []
        self.dots = 0
        self.rcpts = 0
        #: 1-based message number at which to hold (after storing it / at its RCPT)
        self.hold_after: int | None = None
        self.hold_before: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    async def _hold(self) -> None:
        self.holding.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        self.rcpts += 1
        if self.hold_before is not None and self.rcpts == self.hold_before:
            await self._hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.dots += 1
            reply = self.replies.pop(0) if self.replies else "250 OK queued"
            if reply.startswith("250"):
                self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if reply.startswith("250") and self.hold_after is not None and len(self.messages) == self.hold_after:
            await self._hold()
        return reply

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mailbox.release.set()
        self.controller.stop()
