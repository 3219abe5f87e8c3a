"""DNS rebinding: on a loopback address devmail answers only names that mean this machine."""

from __future__ import annotations

import pytest

from .conftest import MakeDevmail, plain_mail


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8025", "localhost.evil.example", "127.0.0.1.nip.io"]
)
async def test_a_name_that_could_be_rebound_is_refused(
    make_devmail: MakeDevmail, host: str
) -> None:
    devmail = await make_devmail()
    await devmail.send(plain_mail("bob@example.com", "code 123456"))
    for path in ("/api/v1/messages", "/api/v1/message/latest", "/api/events"):
        response = await devmail.client.get(path, headers={"Host": host})
        assert response.status == 403, path
        body = await response.json()
        assert body["code"] == "host_not_allowed" and "123456" not in str(body)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8025", "localhost", "LOCALHOST:1", "devmail.localhost", "[::1]:8025", "10.1.2.3"],
)
async def test_names_of_this_machine_are_answered(make_devmail: MakeDevmail, host: str) -> None:
    devmail = await make_devmail()
    response = await devmail.client.get("/api/v1/messages", headers={"Host": host})
    assert response.status == 200


async def test_allowed_hosts_adds_names(make_devmail: MakeDevmail) -> None:
    devmail = await make_devmail(allowed_hosts=("mail.test",))
    for host, status in (("mail.test:8025", 200), ("MAIL.TEST.", 200), ("other.test", 403)):
        response = await devmail.client.get("/api/v1/messages", headers={"Host": host})
        assert response.status == status, host


async def test_bound_beyond_loopback_every_name_is_answered(make_devmail: MakeDevmail) -> None:
    # In a container network other services reach it by their own name for it.
    devmail = await make_devmail(host="0.0.0.0")
    response = await devmail.client.get("/api/v1/messages", headers={"Host": "devmail:8025"})
    assert response.status == 200
