"""Outgoing email over SMTP (invites, password reset links), with the standard library.

`smtplib` blocks, so a message is sent in a worker thread; one connection per message is enough
for the few emails sign-up and reset make. Messages carry one-time links (secrets) and names
(PHI): the log says what kind of email went to which user, never its body or address.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int = 587
    username: str | None = None
    password: str | None = None
    from_address: str = "fireside@localhost"
    starttls: bool = True


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    body: str
    # What it is and for whom, for the log: "password reset for User/123".
    purpose: str


class MailSender:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.host)

    async def send(self, mail: OutgoingMail) -> bool:
        """Deliver `mail`; False (logged) when SMTP is not configured or delivery failed."""
        if not self.configured:
            log.warning("no email sent (SMTP is not configured): %s", mail.purpose)
            return False
        try:
            await asyncio.to_thread(self._deliver, self._message(mail))
        except (smtplib.SMTPException, OSError) as error:
            # The exception type only: SMTP replies may quote the recipient.
            log.error("email not sent (%s): %s", type(error).__name__, mail.purpose)
            return False
        log.info("email sent: %s", mail.purpose)
        return True

    def _message(self, mail: OutgoingMail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        return message

    def _deliver(self, message: EmailMessage) -> None:
        settings = self.settings
        assert settings.host is not None
        with smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
