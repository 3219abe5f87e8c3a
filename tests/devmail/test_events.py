"""The websocket event stream, supersede marking and retention eviction."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from devmail import events
from devmail.message import Envelope, Stored

from .conftest import Devmail, MakeDevmail, code_mail, plain_mail

# A safety net so a broken stream fails the test instead of hanging it; never a measurement.
RECEIVE_TIMEOUT = 10


async def next_events(ws: ClientWebSocketResponse, count: int) -> list[tuple[str, Any]]:
    events = []
    for _ in range(count):
        event = await ws.receive_json(timeout=RECEIVE_TIMEOUT)
        events.append((event["Type"], event["Data"]))
    return events


async def test_new_update_and_delete_events(devmail: Devmail) -> None:
    ws = await devmail.client.ws_connect("/api/events")
    await devmail.send(plain_mail("bob@example.com", "one"))
    [(kind, data)] = await next_events(ws, 1)
    assert kind == "new"
    assert data["Subject"] == "one" and data["Read"] is False and data["Seq"] == 1

    await devmail.json(f"/api/v1/message/{data['ID']}")
    [(kind, updated)] = await next_events(ws, 1)
    assert (kind, updated["ID"], updated["Read"]) == ("update", data["ID"], True)

    response = await devmail.client.delete("/api/v1/messages", json={"IDs": [data["ID"]]})
    assert response.status == 200
    [(kind, deleted)] = await next_events(ws, 1)
    assert (kind, deleted["ID"]) == ("delete", data["ID"])
    await ws.close()


async def test_later_ref_seq_supersedes_and_announces_update(devmail: Devmail) -> None:
    ws = await devmail.client.ws_connect("/api/events")
    await devmail.send(code_mail("alice@example.com", "111111", ref="sg_1", seq=1))
    [(_, first)] = await next_events(ws, 1)
    assert (first["Superseded"], first["SupersededBy"]) == (False, None)

    await devmail.send(code_mail("alice@example.com", "222222", ref="sg_1", seq=2))
    (kind, second), (kind2, first_again) = await next_events(ws, 2)
    assert (kind, second["RefSeq"], second["Superseded"]) == ("new", 2, False)
    assert (kind2, first_again["ID"]) == ("update", first["ID"])
    assert first_again["Superseded"] is True
    assert first_again["SupersededBy"] == second["ID"]
    assert first_again["Codes"] == ["111111"]

    stored = await devmail.json(f"/api/v1/message/{first['ID']}")
    assert (stored["Superseded"], stored["SupersededBy"]) == (True, second["ID"])
    assert [m["ID"] for m in (await devmail.json("/api/v1/search", query="is:superseded"))[
        "messages"
    ]] == [first["ID"]]  # fmt: skip
    await ws.close()


async def test_supersede_is_per_flow_and_by_ref_seq_not_arrival(devmail: Devmail) -> None:
    # The resend (seq 2) arrives before the original: the original is still the stale one.
    await devmail.send(code_mail(code="222222", flow="signup", ref="r", seq=2))
    await devmail.send(code_mail(code="111111", flow="signup", ref="r", seq=1))
    # Same ref, other flow: a different request, so nothing to supersede.
    await devmail.send(code_mail(code="333333", flow="email-change", ref="r", seq=1))
    # No X-Acctkit headers at all.
    await devmail.send(plain_mail())
    listing = (await devmail.json("/api/v1/messages"))["messages"]
    by_code = {tuple(m["Codes"]): m for m in listing}
    newer = by_code[("222222",)]
    assert (by_code[("111111",)]["Superseded"], by_code[("111111",)]["SupersededBy"]) == (
        True,
        newer["ID"],
    )
    assert newer["Superseded"] is False
    assert by_code[("333333",)]["Superseded"] is False
    assert by_code[()]["Superseded"] is False and by_code[()]["Flow"] is None


async def test_deleting_the_newer_mail_unmarks_the_older(devmail: Devmail) -> None:
    await devmail.send(code_mail(code="111111", ref="r", seq=1))
    await devmail.send(code_mail(code="222222", ref="r", seq=2))
    older, newer = reversed((await devmail.json("/api/v1/messages"))["messages"])
    ws = await devmail.client.ws_connect("/api/events")
    await devmail.client.delete("/api/v1/messages", json={"IDs": [newer["ID"]]})
    (kind, gone), (kind2, changed) = await next_events(ws, 2)
    assert (kind, gone["ID"], kind2, changed["ID"]) == (
        "delete",
        newer["ID"],
        "update",
        older["ID"],
    )
    assert changed["Superseded"] is False
    await ws.close()


async def test_retention_evicts_oldest_counted_and_announced(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(max_messages=3)
    ws = await devmail.client.ws_connect("/api/events")
    for n in range(5):
        await devmail.send(plain_mail(subject=f"m{n}"))
    events = await next_events(ws, 7)
    assert [(kind, data["Subject"]) for kind, data in events] == [
        ("new", "m0"), ("new", "m1"), ("new", "m2"),
        ("new", "m3"), ("delete", "m0"),
        ("new", "m4"), ("delete", "m1"),
    ]  # fmt: skip
    listing = await devmail.json("/api/v1/messages")
    assert [m["Subject"] for m in listing["messages"]] == ["m4", "m3", "m2"]
    info = await devmail.json("/api/v1/info")
    assert (info["Messages"], info["Evicted"], info["Retention"]) == (3, 2, 3)
    await ws.close()


async def test_unlimited_retention(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(max_messages=0)
    for n in range(4):
        await devmail.send(plain_mail(subject=f"m{n}"))
    info = await devmail.json("/api/v1/info")
    assert (info["Messages"], info["Evicted"], info["Retention"]) == (4, 0, 0)


async def test_disconnected_subscribers_are_cleaned_up(devmail: Devmail) -> None:
    first = await devmail.client.ws_connect("/api/events")
    second = await devmail.client.ws_connect("/api/events")
    await devmail.server.wait_websockets(2)
    assert devmail.server.store.subscriber_count == 2
    await first.close()
    await devmail.server.wait_websockets(1)
    assert devmail.server.store.subscriber_count == 1
    # The remaining subscriber still gets events.
    await devmail.send(plain_mail(subject="still here"))
    [(kind, data)] = await next_events(second, 1)
    assert (kind, data["Subject"]) == ("new", "still here")
    await second.close()
    await devmail.server.wait_websockets(0)
    assert devmail.server.store.subscriber_count == 0
    assert (await devmail.json("/api/v1/info"))["Subscribers"] == 0


async def test_a_stalled_subscriber_pins_frames_not_messages(
    make_devmail: MakeDevmail, monkeypatch: Any
) -> None:
    """A websocket reader that stops reading (a paused tab) keeps at most EVENT_BACKLOG frames
    alive, never the evicted messages those events were about; when it reads again it is told
    it fell behind."""
    monkeypatch.setattr(events, "EVENT_BACKLOG", 2_000)
    devmail = await make_devmail(max_messages=100)
    store = devmail.server.store
    stalled = store.subscribe()
    envelope = Envelope("sender@example.com", ("bob@example.com",))
    for n in range(2_500):
        raw = plain_mail(subject=f"stalled-{n}", body=f"{n} " + "lorem ipsum " * 100).as_bytes()
        await store.add(raw, envelope)
    gc.collect()
    alive = sum(
        isinstance(o, Stored) and o.parsed.subject.startswith("stalled-") for o in gc.get_objects()
    )
    # Events holding their summaries would keep the last 2,000 messages alive, not 100.
    assert alive <= 110, f"{alive} messages alive with --max 100"
    with pytest.raises(events.SubscriberLagged):
        await stalled.next_batch()
    stalled.close()


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "file://", "http://127.0.0.1:1"])
async def test_a_page_of_another_origin_may_not_read_the_events(
    devmail: Devmail, origin: str
) -> None:
    response = await devmail.client.get(
        "/api/events",
        headers={
            "Origin": origin,
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    assert (await response.json())["code"] == "cross_origin"


async def test_its_own_origin_and_no_origin_may_read_the_events(devmail: Devmail) -> None:
    own = f"http://{devmail.client.server.host}:{devmail.client.server.port}"
    for headers in ({"Origin": own}, {}):
        ws = await devmail.client.ws_connect("/api/events", headers=headers)
        await devmail.send(plain_mail("bob@example.com", "seen"))
        [(kind, data)] = await next_events(ws, 1)
        assert (kind, data["Subject"]) == ("new", "seen")
        await ws.close()
