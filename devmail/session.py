"""aiosmtpd's SMTP session with the per-message costs of a pipelining client taken out.

aiosmtpd already reads commands from a buffered stream, so offering PIPELINING (RFC 2920) is
safe; what it did per message beyond that was most of devmail's SMTP time (py-spy, before):
one socket write per reply (22%: writes are system calls, dear in this sandbox), the email
package's full RFC 5322 address parser for every MAIL and RCPT (15%), and a `readuntil` per
line of content (5%). Replies and errors stay exactly aiosmtpd's.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiosmtpd.smtp import MISSING, SMTP

log = logging.getLogger(__name__)

_END = b"\r\n.\r\n"
# <local@domain> with plain dot-atoms and what follows; anything else goes to aiosmtpd's parser.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


class PipelinedSMTP(SMTP):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._held: list[bytes] = []

    async def push(self, status: str) -> None:
        """Hold a positive reply while the client's next command is already buffered.

        A pipelining client sends a message's content with the next MAIL, RCPT and DATA; their
        replies then leave in one write (with the 354 that the client waits for) instead of
        four. Any other reply, or one with no command behind it, flushes at once, so a client
        that waits for each reply sees no difference.
        """
        reply = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") + b"\r\n"
        if (status.startswith("250") or status[3:4] == "-") and self._command_buffered():
            self._held.append(reply)
            return
        if self._held:
            reply = b"".join((*self._held, reply))
            self._held.clear()
        self._writer.write(reply)
        await self._writer.drain()

    def release_replies(self) -> None:
        """Write held replies now (before the session closes the connection itself)."""
        if self._held and self.transport is not None:
            self._writer.write(b"".join(self._held))
        self._held.clear()

    def _command_buffered(self) -> bool:
        # aiosmtpd itself reaches into the reader's buffer (on STARTTLS); asyncio has no
        # public "is a full line waiting" call.
        buffered = getattr(self._reader, "_buffer", None)
        return buffered is not None and b"\n" in buffered

    async def smtp_QUIT(self, arg: str) -> None:
        self.release_replies()
        await super().smtp_QUIT(arg)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """A plain `<local@domain>` without the email package's parser (a sixth of the CPU
        per message); the same result as aiosmtpd's for those, its parser for everything else."""
        match = _SIMPLE_PATH.match(arg)
        if match is None:
            return super()._getaddr(arg)
        address, rest = match.group(1), arg[match.end() :]
        if rest[:1] not in ("", " ") or "(" in rest:  # comments and the like: the full parser
            return super()._getaddr(arg)
        local = address.rpartition("@")[0]
        if self.local_part_limit and len(local) > self.local_part_limit:
            return None, None
        return address, rest.lstrip(" ")

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading the content in a few large reads instead of line by line.

        aiosmtpd awaits one `readuntil` per line and joins them (5% of devmail's samples under
        ingest; a third as many this way): this reads up to each ".\r\n" and checks the
        ending, with the same replies for too much data (552) and too long a line (500) and the
        same un-stuffing.
        """
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, error = await self._read_content()
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        if error is not None:
            self._set_post_data_state()
            await self.push(error)
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_content(self) -> tuple[bytes, str | None]:
        """The un-stuffed content up to the lone dot, or an error reply once it has all arrived.

        The buffer starts with a CRLF of its own, so an empty message (a dot at once) and a
        dot-stuffed first line are found like any other line.
        """
        limit = self.data_size_limit or 0
        buffer = bytearray(b"\r\n")
        received = 0
        too_much = False
        while not buffer.endswith(_END):
            try:
                chunk = await self._reader.readuntil(b".\r\n")
            except asyncio.LimitOverrunError as overrun:
                chunk = await self._reader.read(overrun.consumed)
            received += len(chunk)
            buffer += chunk
            if limit and not too_much and received - 3 > limit:
                too_much = True
            if too_much:
                del buffer[: -len(_END)]  # keep only what can still end the content
        if too_much or (limit and received - 3 > limit):
            return b"", "552 Error: Too much mail data"
        content = bytes(buffer[: -len(b".\r\n")])
        if len(content) > self.line_length_limit and (
            max(map(len, content.split(b"\r\n"))) + 2 > self.line_length_limit
        ):
            return b"", "500 Line too long (see RFC5321 4.5.3.1.6)"
        return content.replace(b"\r\n.", b"\r\n")[2:], None
