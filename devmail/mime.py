"""The two ways devmail has the stdlib's `email` package read a message, each made fast where
a profile of ordinary mail found it slow.

- `INGEST_PARSER`, for every message as it arrives: compat32, whose headers stay plain strings,
  with a Message that remembers its content type and reads a plain Content-Type's parameters
  with one regex (`plain_params`).
- `DOWNLOAD_PARSER`, for part downloads: the modern policy, parsing each distinct header value
  once (`parse_header`, also what decodes the header list and the date when first read).
"""

from __future__ import annotations

import functools
import re
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from typing import Any


class _CachingPolicy(EmailPolicy):
    """`policy.default`, except each distinct header value is parsed once.

    The stdlib re-parses a header (and builds a new header class) on every access, and a
    MIME walk reads Content-Type dozens of times: that made parsing cost most of devmail's
    ingest time. Header objects are immutable strings, so sharing them is safe.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        return parse_header(name, value)


@functools.lru_cache(maxsize=8192)
def parse_header(name: str, value: str) -> Any:
    return policy.default.header_fetch_parse(name, value)


# For part downloads, where headers must come out exactly as the modern policy writes them.
DOWNLOAD_PARSER = BytesParser(policy=_CachingPolicy())


class _IngestMessage(Message):
    """compat32's Message, remembering its content type and its plain parameters.

    The feed parser and the MIME walk ask each part for its content type about nine times,
    and each time compat32 scans the headers and splits the value again.
    """

    _content_type: tuple[tuple[int, str], str] | None = None
    _params: tuple[str, dict[str, str] | None] | None = None  # (Content-Type, plain_params)

    def get_content_type(self) -> str:
        key = (len(self._headers), self._default_type)  # type: ignore[attr-defined]
        if self._content_type is not None and self._content_type[0] == key:
            return self._content_type[1]
        found = super().get_content_type()
        self._content_type = (key, found)
        return found

    def get_param(
        self,
        param: str,
        failobj: Any = None,
        header: str = "content-type",
        unquote: bool = True,
    ) -> Any:
        """compat32's `get_param`, with a plain Content-Type read by one regex.

        Every part is asked for its charset and every multipart for its boundary, and
        compat32 answers each question by splitting and unquoting all the parameters again:
        13% of parsing an ordinary mail. A value of plain parameters (`name=token` or
        `name="text"`: no RFC 2231 `*`, no backslash, no comment) is read once per part;
        anything else goes to compat32. tests/devmail/test_parse.py checks both agree."""
        if not unquote or header.lower() != "content-type":
            return super().get_param(param, failobj, header, unquote)
        value = self.get("content-type")
        if value is None:
            return failobj
        if not isinstance(value, str):
            return super().get_param(param, failobj, header, unquote)
        if self._params is None or self._params[0] is not value:
            self._params = (value, plain_params(value))
        params = self._params[1]
        if params is None:
            return super().get_param(param, failobj, header, unquote)
        return params.get(param.lower(), failobj)


_NAME = r"[!#$%&'+.0-9A-Z^_`a-z|~-]+"  # an RFC 2045 token without `*` (RFC 2231's mark)
_PLAIN_VALUE = r'"[^"\\]*"|[^\s;"\\<>=]+'
_PLAIN_PARAMS = re.compile(
    rf"(?P<type>[^;\"\\*=]*)(?P<params>(?:;\s*{_NAME}\s*=\s*(?:{_PLAIN_VALUE})\s*)*)(?P<end>;?)\s*"
)
_PLAIN_PARAM = re.compile(rf"({_NAME})\s*=\s*({_PLAIN_VALUE})")


def plain_params(value: str) -> dict[str, str] | None:
    """The parameters of a Content-Type value as compat32's `get_param` reads them (names
    lower-cased, the first of each name, quotes taken off), or None if it is not plain."""
    found = _PLAIN_PARAMS.fullmatch(value)
    if found is None:
        return None
    params: dict[str, str] = {}
    params[found.group("type").strip().lower()] = ""  # compat32 counts the type as one too
    for name, raw in _PLAIN_PARAM.findall(found.group("params")):
        params.setdefault(name.lower(), raw[1:-1] if raw.startswith('"') else raw)
    if found.group("end"):
        params.setdefault("", "")  # and a trailing `;` as a nameless one
    return params


# For ingest: compat32 keeps every header a plain string, so nothing is parsed that the
# summary does not read (the header registry costs more than the whole MIME walk).
INGEST_PARSER = BytesParser(_IngestMessage, policy=policy.compat32)
