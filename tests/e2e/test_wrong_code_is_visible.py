""" "Sometimes the emailed code is invalid": with devmail, every code the service mails can be
awaited without polling, and a code that no longer works is marked so, in seconds."""

from __future__ import annotations

from typing import Any

from tests.devmail.conftest import Devmail

ALICE = {
    "first_name": "Alice",
    "last_name": "Liddell",
    "username": "alice",
    "email": "alice@example.com",
    "password": "rabbit-hole-2026",
}


async def latest(devmail: Devmail, after: str | None = None) -> dict[str, Any]:
    """Long-poll devmail for alice's newest mail (the request returns the moment it lands)."""
    params = {"query": "to:alice@example.com", "wait": "10"}
    if after:
        params["after"] = after
    return await devmail.json("/api/v1/message/latest", **params)


async def test_codes_flow_through_devmail_and_superseded_ones_are_flagged(
    service, devmail: Devmail, clock
) -> None:
    resp = await service.post("/api/auth/signup/", json=ALICE)
    signup_id = (await resp.json())["signup_id"]
    first = await latest(devmail)
    assert (first["Flow"], first["Ref"], first["RefSeq"]) == ("signup", signup_id, 1)
    assert len(first["Codes"]) == 1 and len(first["Codes"][0]) == 6
    assert first["Superseded"] is False

    clock.advance(61)
    assert (
        await service.post("/api/auth/signup/resend/", json={"signup_id": signup_id})
    ).status == 202
    second = await latest(devmail, after=first["ID"])
    assert (second["Ref"], second["RefSeq"]) == (signup_id, 2)
    again = await devmail.json(f"/api/v1/message/{first['ID']}")
    assert again["Superseded"] is True and again["SupersededBy"] == second["ID"]

    resp = await service.post(
        "/api/auth/signup/verify/", json={"signup_id": signup_id, "code": first["Codes"][0]}
    )
    if first["Codes"] != second["Codes"]:
        assert resp.status == 409 and (await resp.json())["code"] == "code_superseded"
    resp = await service.post(
        "/api/auth/signup/verify/", json={"signup_id": signup_id, "code": second["Codes"][0]}
    )
    assert resp.status == 201, await resp.text()


async def test_every_mail_is_listed_in_order_with_its_flow(
    service, devmail: Devmail, clock
) -> None:
    for i in range(3):
        body = {**ALICE, "username": f"user{i}", "email": f"user{i}@example.com"}
        assert (await service.post("/api/auth/signup/", json=body)).status == 202
    await devmail.json("/api/v1/message/latest", query="to:user2@example.com", wait="10")
    listing = await devmail.json("/api/v1/messages")
    assert listing["total"] == 3
    assert [m["To"][0]["Address"] for m in listing["messages"]] == [
        "user2@example.com",
        "user1@example.com",
        "user0@example.com",
    ]
    assert {m["Flow"] for m in listing["messages"]} == {"signup"}
    assert all(m["Envelope"]["RcptTo"] == [m["To"][0]["Address"]] for m in listing["messages"])
