"""A Mailpit client from PyPI (mailpit-api-client) works against devmail unchanged."""

from __future__ import annotations

import asyncio

from mailpit.client.api import API

from .conftest import Devmail, code_mail, plain_mail


async def test_list_get_headers_and_delete_through_mailpit_client(devmail: Devmail) -> None:
    await devmail.send(code_mail("alice@example.com", "042917"))
    await devmail.send(plain_mail("bob@example.com", "second"))
    api = API(str(devmail.client.make_url("")).rstrip("/"), timeout=10)

    listing = await asyncio.to_thread(api.get_messages)
    assert (listing.total, listing.unread, listing.count, listing.start) == (2, 2, 2, 0)
    assert [m.subject for m in listing.messages] == ["second", "Your acctkit code: 042917"]
    first = listing.messages[1]
    assert first.to[0].address == "alice@example.com"
    assert first.from_ is not None and first.from_.name == "acctkit"

    message = await asyncio.to_thread(api.get_message, first.id)
    assert message.id == first.id and message.read is True
    assert message.text == "Your verification code is 042917. It expires in 10 minutes.\n"
    assert "<strong>042917</strong>" in (message.html or "")

    await asyncio.to_thread(api.delete_messages, [first.id])
    remaining = await asyncio.to_thread(api.get_messages)
    assert [m.subject for m in remaining.messages] == ["second"]
    await asyncio.to_thread(api.delete_messages, [])
    assert (await asyncio.to_thread(api.get_messages)).total == 0
