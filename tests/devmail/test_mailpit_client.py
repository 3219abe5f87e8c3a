"""Mailpit clients work against devmail unchanged: every call of the PyPI client
mailpit-api-client, and the npm client mailpit-api (when node and npm are present)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest
from mailpit.client.api import API

from .conftest import Devmail, code_mail, plain_mail


def with_attachment() -> EmailMessage:
    message = plain_mail("carol@example.com", "report attached", "see the file\n")
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="example.com")
    # The client's Headers model requires this header (MTAs add it); devmail adds none itself.
    message["Delivered-To"] = "carol@example.com"
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="r.csv")
    return message


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


async def test_mark_read_attachment_and_headers_through_mailpit_client(devmail: Devmail) -> None:
    await devmail.send(with_attachment())
    await devmail.send(plain_mail("dan@example.com", "other"))
    api = API(str(devmail.client.make_url("")).rstrip("/"), timeout=10)
    newest, oldest = (await asyncio.to_thread(api.get_messages)).messages

    await asyncio.to_thread(api.put_messages, [oldest.id], "Read", True)
    read = {m.id: m.read for m in (await asyncio.to_thread(api.get_messages)).messages}
    assert read == {oldest.id: True, newest.id: False}
    await asyncio.to_thread(api.put_messages, [], "Read", True)  # no IDs: every message
    assert (await asyncio.to_thread(api.get_messages)).unread == 0
    await asyncio.to_thread(api.put_messages, [newest.id], "Read", False)
    assert (await asyncio.to_thread(api.get_messages)).unread == 1

    message = await asyncio.to_thread(api.get_message, oldest.id)
    (attachment,) = message.attachments
    assert (attachment.file_name, attachment.content_type) == ("r.csv", "text/csv")
    data = await asyncio.to_thread(api.get_message_attachment, oldest.id, attachment.part_id)
    assert data == "a,b\n1,2\n"

    headers = await asyncio.to_thread(api.get_message_headers, oldest.id)
    assert headers.from_ == ["Sender <sender@example.com>"]
    assert headers.content_type[0].startswith("multipart/mixed")


NPM_CLIENT = "mailpit-api@2.1.0"
NPM_DIR = Path(__file__).resolve().parents[2] / ".venv" / "npm" / "mailpit-api-2.1.0"
NPM_SCRIPT = Path(__file__).with_name("mailpit_api_calls.mjs")


def npm_client() -> Path:
    """The npm client, installed once into .venv (no dependencies, about 100 kB).

    Skips when node or npm is missing, or when the registry cannot be reached (offline CI
    has to pre-install it into the same place).
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the npm mailpit-api client")
    modules = NPM_DIR / "node_modules"
    if not (modules / "mailpit-api" / "package.json").exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        command = [npm, "install", "--prefix", str(NPM_DIR), NPM_CLIENT, "--no-audit"]
        command += ["--no-fund", "--loglevel=error", "--no-save"]
        try:
            subprocess.run(command, check=True, timeout=120, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"could not install {NPM_CLIENT} from the npm registry: {exc}")
    return modules


async def test_every_call_of_the_npm_mailpit_api_client(devmail: Devmail) -> None:
    modules = npm_client()
    base = str(devmail.client.make_url("")).rstrip("/")
    node = await asyncio.create_subprocess_exec(
        "node", str(NPM_SCRIPT), base, str(modules),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(node.communicate(), 60)
    except TimeoutError:
        node.kill()
        await node.wait()
        raise
    assert node.returncode == 0, err.decode()
    assert out.decode().strip() == "ok 28 calls"
