"""Delivery over SMTP with the standard library, configured by one URL
(smtp://, smtps://, smtp+starttls://, with optional user:password)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from core.outbox import DeliveryResult, OutgoingMail

SCHEMES = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


@dataclass(frozen=True)
class SmtpConfig:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(f"ACCTKIT_SMTP_URL scheme must be one of {sorted(SCHEMES)}")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or SCHEMES[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class SmtpTransport:
    """Sends a batch over one connection; a failure is reported per message, never raised."""

    def __init__(self, url: str, sender: str, timeout: float = 15.0) -> None:
        self.config = SmtpConfig.from_url(url)
        self.sender = sender
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        # local_hostname avoids a reverse DNS lookup of this machine on every connection.
        if c.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                c.host,
                c.port,
                local_hostname="acctkit",
                timeout=self.timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(c.host, c.port, local_hostname="acctkit", timeout=self.timeout)
            if c.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
        if c.username:
            client.login(c.username, c.password or "")
        return client

    def probe(self) -> str | None:
        """Connect, greet and say goodbye: None if the server is there, else why not. Cheap
        enough to run every second while mail waits out an outage."""
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return f"connect: {exc!r}"
        try:
            code, _ = client.noop()
            return None if code == 250 else f"NOOP answered {code}"
        except (OSError, smtplib.SMTPException) as exc:
            return repr(exc)
        finally:
            _close(client)

    def __call__(self, batch: Sequence[OutgoingMail]) -> list[DeliveryResult]:
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return [DeliveryResult(m.id, f"connect: {exc!r}", unreachable=True) for m in batch]
        results: list[DeliveryResult] = []
        try:
            for mail in batch:
                try:
                    client.send_message(build_message(mail, self.sender))
                    results.append(DeliveryResult(mail.id))
                except (OSError, smtplib.SMTPServerDisconnected) as exc:
                    results.append(DeliveryResult(mail.id, repr(exc), unreachable=True))
                except smtplib.SMTPException as exc:
                    results.append(DeliveryResult(mail.id, repr(exc), unreachable=_refused(exc)))
                if results[-1].unreachable:
                    # The connection is gone (smtplib closes it on a 421 too): the rest of the
                    # batch keeps the error that stopped it, not "please run connect() first".
                    error = f"not tried, the connection failed before it: {results[-1].error}"
                    results.extend(
                        DeliveryResult(m.id, error, unreachable=True) for m in batch[len(results) :]
                    )
                    break
        finally:
            _close(client)
        return results


def _refused(exc: smtplib.SMTPException) -> bool:
    """421 means the server as a whole is unavailable, not this one mail."""
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
