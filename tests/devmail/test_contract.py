"""Every JSON answer of devmail is exactly a Struct of contract.mailpit: the TUI decodes with
those classes, so a field renamed, dropped or added on one side only fails here."""

from __future__ import annotations

import msgspec

from contract import mailpit

from .conftest import Devmail, code_mail
from .test_api import SUMMARY_FIELDS


def fields(kind: type[msgspec.Struct]) -> set[str]:
    return set(kind.__struct_fields__)


async def body(devmail: Devmail, path: str) -> bytes:
    response = await devmail.client.get(path)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/json"
    return await response.read()


async def test_listing_message_info_and_headers_decode_strictly(devmail: Devmail) -> None:
    await devmail.send(code_mail("alice@example.com", "042917"))
    raw_listing = await body(devmail, "/api/v1/messages")
    listing = msgspec.json.decode(raw_listing, type=mailpit.Messages)
    assert set(msgspec.json.decode(raw_listing)) == fields(mailpit.Messages)
    (summary,) = listing.messages
    assert set(msgspec.json.decode(raw_listing)["messages"][0]) == fields(mailpit.Summary)
    assert fields(mailpit.Summary) >= SUMMARY_FIELDS | {"RequestID", "PartsMismatch", "Tags"}
    assert summary.Codes == ["042917"] and summary.From == mailpit.Address(
        "acctkit", "no-reply@localhost"
    )

    raw_message = await body(devmail, f"/api/v1/message/{summary.ID}")
    message = msgspec.json.decode(raw_message, type=mailpit.Message)
    assert set(msgspec.json.decode(raw_message)) == fields(mailpit.Message)
    # The message carries every summary field but the attachment count, with equal values.
    for name in fields(mailpit.Summary) - {"Attachments", "Read"}:
        assert getattr(message, name) == getattr(summary, name), name
    assert message.Read is True and message.Text.startswith("Your verification code")

    raw_info = await body(devmail, "/api/v1/info")
    info = msgspec.json.decode(raw_info, type=mailpit.Info)
    assert set(msgspec.json.decode(raw_info)) == fields(mailpit.Info)
    assert (info.Messages, info.Unread, info.SMTPAccepted) == (1, 0, 1)
    assert info.RuntimeStats.Memory > 0

    headers = msgspec.json.decode(
        await body(devmail, f"/api/v1/message/{summary.ID}/headers"), type=dict[str, list[str]]
    )
    assert headers["X-Acctkit-Flow"] == ["signup"]


async def test_events_decode_as_contract_events(devmail: Devmail) -> None:
    async with devmail.client.ws_connect("/api/events") as ws:
        await devmail.server.wait_websockets(1)
        await devmail.send(code_mail())
        raw = await ws.receive_str(timeout=10)
    event = msgspec.json.decode(raw, type=mailpit.Event)
    assert event.Type == "new" and event.Data.Codes == ["042917"]
    assert set(msgspec.json.decode(raw)["Data"]) == fields(mailpit.Summary)
