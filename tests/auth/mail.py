"""A real SMTP server for tests (aiosmtpd on a free local port) that keeps what it receives."""

from __future__ import annotations

import email
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import unshared_port


@dataclass
class ReceivedMail:
    to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()

    def link(self) -> str:
        match = re.search(r"https?://\S+/oauth2/set-password\?token=\S+", self.body)
        assert match, self.body
        return match.group(0)


@dataclass
class MailSink:
    """The aiosmtpd handler: every message accepted lands in `received`."""

    received: list[ReceivedMail] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._arrived:
            self.received.append(ReceivedMail(list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, recipient: str, count: int = 1, timeout: float = 10) -> ReceivedMail:
        """The `count`-th message to `recipient`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                mine = self.to(recipient)
                if len(mine) >= count:
                    return mine[count - 1]
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no email number {count} to {recipient}: got {self.received}"
                self._arrived.wait(remaining)

    def to(self, recipient: str) -> list[ReceivedMail]:
        return [m for m in self.received if recipient in m.to]


def start_mail_sink() -> tuple[MailSink, Controller]:
    sink = MailSink()
    sink.port = unshared_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    return sink, controller
