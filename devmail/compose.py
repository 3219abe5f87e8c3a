"""POST /api/v1/send: Mailpit's JSON message turned into a real RFC 5322 message.

The standard library builds the MIME (text, HTML alternative, attachments, inline parts);
the result goes through the same store as SMTP mail, so it looks exactly like caught mail.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from email.errors import MessageError
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from contract.mailpit import SendAddress, SendRequest
from devmail.message import Envelope


class ComposeError(ValueError):
    """The body is well-formed JSON but no message can be built from it."""


# What the stdlib's header parsers raise for values they cannot read: HeaderParseError (a
# MessageError) for `<a@b>` as an address, IndexError for `"` as a Reply-To, and so on.
_REFUSED = (ValueError, IndexError, TypeError, MessageError)


def _checked(email: str) -> str:
    try:
        HeaderAddress(addr_spec=email)
    except _REFUSED as exc:
        raise ComposeError(f"{email!r} is not an email address") from exc
    return email


def _address(found: SendAddress) -> str:
    return formataddr((found.Name, _checked(found.Email)))


def compose(request: SendRequest) -> tuple[bytes, Envelope]:
    if not request.To and not request.Cc and not request.Bcc:
        raise ComposeError("at least one recipient (To, Cc or Bcc) is required")
    message = EmailMessage()
    message["From"] = _address(request.From)
    if request.To:
        message["To"] = ", ".join(_address(a) for a in request.To)
    if request.Cc:
        message["Cc"] = ", ".join(_address(a) for a in request.Cc)
    if request.ReplyTo:
        message["Reply-To"] = ", ".join(_address(a) for a in request.ReplyTo)
    message["Subject"] = request.Subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="devmail.localhost")
    for name, value in request.Headers.items():
        try:
            message[name] = value
        except _REFUSED as exc:
            raise ComposeError(f"header {name} could not be set: {exc}") from exc
    try:
        message.set_content(request.Text or "")
    except TypeError as exc:  # a multipart Content-Type among the Headers
        raise ComposeError(f"the Headers make a message that cannot carry Text: {exc}") from exc
    if request.HTML:
        message.add_alternative(request.HTML, subtype="html")
    for attachment in request.Attachments:
        try:
            payload = base64.b64decode(attachment.Content, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ComposeError(f"attachment {attachment.Filename!r} is not base64") from exc
        content_type = attachment.ContentType or (
            mimetypes.guess_type(attachment.Filename)[0] or "application/octet-stream"
        )
        if "/" not in content_type:
            raise ComposeError(f"{content_type!r} is not a content type")
        maintype, subtype = content_type.split("/", 1)
        disposition = "inline" if attachment.ContentID else "attachment"
        message.add_attachment(
            payload,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.Filename,
            disposition=disposition,
            cid=f"<{attachment.ContentID}>" if attachment.ContentID else None,
        )
    rcpt = [a.Email for a in (*request.To, *request.Cc)] + [_checked(a) for a in request.Bcc]
    raw = message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return raw, Envelope(request.From.Email, tuple(rcpt))
