"""--db: messages, IDs, read state and order survive a restart."""

from __future__ import annotations

from pathlib import Path

from .conftest import MakeDevmail, code_mail, plain_mail


async def test_db_survives_restart(make_devmail: MakeDevmail, tmp_path: Path) -> None:
    db = str(tmp_path / "devmail.sqlite")
    first = await make_devmail(db_path=db)
    await first.send(code_mail(code="111111", ref="r", seq=1))
    await first.send(code_mail(code="222222", ref="r", seq=2))
    await first.send(plain_mail(subject="gone"))
    before = (await first.json("/api/v1/messages"))["messages"]
    await first.json(f"/api/v1/message/{before[2]['ID']}")  # mark the oldest read
    await first.client.delete("/api/v1/messages", json={"IDs": [before[0]["ID"]]})
    raw_before = await (await first.client.get(f"/api/v1/message/{before[1]['ID']}/raw")).read()
    await first.client.close()

    second = await make_devmail(db_path=db)
    after = (await second.json("/api/v1/messages"))["messages"]
    assert [(m["ID"], m["Seq"], m["Read"]) for m in after] == [
        (before[1]["ID"], 2, False),
        (before[2]["ID"], 1, True),
    ]
    assert after[1]["Superseded"] is True and after[1]["SupersededBy"] == before[1]["ID"]
    raw_after = await (await second.client.get(f"/api/v1/message/{before[1]['ID']}/raw")).read()
    assert raw_after == raw_before
    # Numbering continues past the deleted message, and `after=` still knows old IDs.
    await second.send(plain_mail(subject="new"))
    newest = await second.json("/api/v1/message/latest", after=before[1]["ID"])
    assert (newest["Subject"], newest["Seq"]) == ("new", 4)
    await second.client.close()


async def test_smaller_max_on_restart_evicts_oldest(
    make_devmail: MakeDevmail, tmp_path: Path
) -> None:
    db = str(tmp_path / "devmail.sqlite")
    first = await make_devmail(db_path=db)
    for n in range(4):
        await first.send(plain_mail(subject=f"m{n}"))
    await first.client.close()
    second = await make_devmail(db_path=db, max_messages=2)
    listing = await second.json("/api/v1/messages")
    assert [m["Subject"] for m in listing["messages"]] == ["m3", "m2"]
    assert (await second.json("/api/v1/info"))["Evicted"] == 2
    await second.client.close()
    third = await make_devmail(db_path=db)
    assert (await third.json("/api/v1/info"))["Messages"] == 2
