"""aiosmtpd's SMTP session with the per-message costs of a pipelining client taken out.

aiosmtpd already reads commands from a buffered stream, so offering PIPELINING (RFC 2920) is
safe; what it did per message beyond that was most of devmail's SMTP time (py-spy, before):
one socket write per reply (22%: writes are system calls, dear in this sandbox), the email
package's full RFC 5322 address parser for every MAIL and RCPT (15%), and a `readuntil` per
line of content (5%). Replies and errors stay exactly aiosmtpd's.
"""

from __future__ import annotations

import asyncio
import functools
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

    @functools.wraps(SMTP.smtp_QUIT)  # keeps aiosmtpd's HELP text for the verb
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

    @functools.wraps(SMTP.smtp_DATA)  # keeps aiosmtpd's HELP text for the verb
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading the content in a few large reads instead of line by line.

        aiosmtpd awaits one `readuntil` per line and joins them (5% of devmail's samples under
        ingest; a third as many this way): this reads up to each CRLF-dot-CRLF, with the same
        replies for too much data (552) and too long a line (500) and the same un-stuffing.
        (`functools.wraps` gives the method aiosmtpd's docstring and HELP text.)
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

        It reads up to each CRLF-dot-CRLF, so a 20 MB message costs a few hundred reads of the
        stream's window, not one per line (prose ends many lines in a dot), and each read's
        lines are measured and un-stuffed as they arrive: nothing at the end walks the whole
        message again while every other connection waits.
        """
        limit = self.data_size_limit or 0
        content = _Content(self.line_length_limit)
        received = 0
        while not content.ended:
            try:
                if content.may_end_with_the_next_byte():
                    chunk = await self._reader.readexactly(1)
                else:
                    chunk = await self._reader.readuntil(_END)
            except asyncio.LimitOverrunError as overrun:
                chunk = await self._reader.read(overrun.consumed)
            received += len(chunk)
            content.feed(chunk, keep=not limit or received - 3 <= limit)
        if limit and received - 3 > limit:
            return b"", "552 Error: Too much mail data"
        if content.too_long:
            return b"", "500 Line too long (see RFC5321 4.5.3.1.6)"
        return bytes(content.lines), None


class _Content:
    """DATA's content as it arrives: complete lines un-stuffed into `lines`, each measured.

    `tail` holds what follows the last line end seen, starting with that CRLF (at first a CRLF
    of its own, standing for the one that ended the DATA command). So an empty message (a dot
    at once) and a dot-stuffed first line are found like any other line, and the terminator,
    CRLF-dot-CRLF, is always at the end of `tail` when it has come.
    """

    def __init__(self, line_limit: int) -> None:
        self.line_limit = line_limit
        self.lines = bytearray()
        self.tail = bytearray(b"\r\n")
        self.ended = False
        self.too_long = False
        self.kept = True  # False once over the size limit: the content is dropped

    def may_end_with_the_next_byte(self) -> bool:
        """`tail` ends in the start of the terminator, whose rest may not be buffered yet: a
        read up to the whole terminator would not see it straddle, so read one byte."""
        return self.tail.endswith((b"\r", b"\r\n", b"\r\n.", b"\r\n.\r"))

    def feed(self, chunk: bytes, *, keep: bool) -> None:
        tail = self.tail
        tail += chunk
        self.ended = tail.endswith(_END)
        if not keep or not self.kept:
            self.kept = False
            self.lines.clear()
            del tail[: -len(_END)]  # only what can still end the content
            return
        if self.ended:
            self._take(len(tail) - 3, ended=True)  # the CRLF before the dot ends the last line
            return
        # A CRLF may straddle the chunk's start, so look one byte before it.
        last = tail.rfind(b"\r\n", max(1, len(tail) - len(chunk) - 1))
        if last > 0:
            self._take(last, ended=False)
        # The unfinished line is too long already: tail less its CRLF and a CR that may start
        # the next one, plus the CRLF that will end it.
        self.too_long = self.too_long or len(tail) - 1 > self.line_limit

    def _take(self, end: int, *, ended: bool) -> None:
        """Move the lines in tail[:end] (after its leading CRLF) to `lines`, un-stuffed."""
        done = self.tail[:end]
        if len(done) > self.line_limit and not self.too_long:
            self.too_long = max(map(len, done.split(b"\r\n"))) + 2 > self.line_limit
        self.lines += memoryview(done.replace(b"\r\n.", b"\r\n"))[2:]
        if not ended:
            self.lines += b"\r\n"
        del self.tail[:end]
