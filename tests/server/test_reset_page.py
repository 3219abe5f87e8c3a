"""The reset page, used as a person would: open the mailed link, read the form, fill it in, send
it, and open the link again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from server.handlers.reset_page import Html, _fill
from tests.conftest import Inbox
from tests.server.test_reset_flow import NEW, OLD, PUBLIC, create_user, link_in, login, settle

FORM = "application/x-www-form-urlencoded"


@dataclass
class Page(HTMLParser):
    """What a person (or a screen reader) gets from the page."""

    lang: str | None = None
    title: str = ""
    headings: list[str] = field(default_factory=list)
    forms: list[dict[str, str | None]] = field(default_factory=list)
    inputs: list[dict[str, str | None]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    text: str = ""
    _open: list[str] = field(default_factory=list)
    _label_for: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        self._open.append(tag)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "form":
            self.forms.append(a)
        elif tag == "input":
            self.inputs.append(a)
            self._open.pop()
        elif tag == "label":
            self._label_for = a.get("for")
        elif tag in ("meta", "link", "br"):
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()
        if tag == "label":
            self._label_for = None

    def handle_data(self, data: str) -> None:
        if "style" in self._open:
            return
        self.text += data
        if self._label_for:
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data.strip()
        if self._open and self._open[-1] == "title":
            self.title += data
        if self._open and self._open[-1] == "h1":
            self.headings.append(data.strip())

    def field(self, name: str) -> dict[str, str | None]:
        return next(i for i in self.inputs if i.get("name") == name)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[TestClient]:
    client = await make_client(public_url=PUBLIC)
    yield client
    await settle(client)


async def open_mailed_link(client: TestClient, inbox: Inbox) -> tuple[str, Any]:
    """Ask for a reset and open the link from the mail; return its path and the response."""
    resp = await client.post("/api/auth/password/reset/", json={"email": "alice@example.com"})
    assert resp.status == 202
    mail = await inbox.next_to("alice@example.com", flow="password-reset")
    base, uid = link_in(mail)
    assert base == PUBLIC
    path = urlsplit(f"{base}/reset-password/{uid}").path
    return path, await client.get(path)


def assert_page_headers(resp: Any) -> None:
    assert resp.content_type == "text/html"
    assert resp.charset == "utf-8"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"


async def fill_in(client: TestClient, page: Page, new: str, again: str, **extra: str) -> Any:
    """Submit the page's form the way a browser would: every input it has, passwords typed in."""
    [form] = page.forms
    data = {str(i["name"]): i.get("value") or "" for i in page.inputs if i.get("name")}
    data.update(new_password=new, re_new_password=again, **extra)
    assert (form.get("method") or "").lower() == "post"
    return await client.post(str(form["action"]), data=data)


async def test_a_person_resets_their_password_through_the_page(client, inbox: Inbox) -> None:
    await create_user(client)
    path, resp = await open_mailed_link(client, inbox)
    assert resp.status == 200
    assert_page_headers(resp)
    html = await resp.text()
    page = parse(html)

    assert page.lang == "en"
    assert page.headings == ["Choose a new password"]
    assert "script" not in page.tags and "noscript" not in page.tags
    [form] = page.forms
    assert form["action"] == path and (form["method"] or "").lower() == "post"
    for name in ("new_password", "re_new_password"):
        box = page.field(name)
        assert box["type"] == "password"
        assert box["autocomplete"] == "new-password"
        assert box["minlength"] == "8"
        assert "maxlength" not in box  # a browser would silently cut a longer pasted password
        assert box["id"] in page.labels and page.labels[box["id"]]
    assert {i.get("name") for i in page.inputs} == {"csrf_token", "new_password", "re_new_password"}

    done = await fill_in(client, page, NEW, NEW)
    assert done.status == 200
    assert_page_headers(done)
    done_page = parse(await done.text())
    assert done_page.headings == ["Your password was changed"]
    assert NEW not in await done.text()
    assert (await login(client, NEW)).status == 200
    notice = await inbox.next_to("alice@example.com", flow="password-changed")
    assert NEW not in notice.as_string()

    again = await client.get(path)
    assert again.status == 409
    assert_page_headers(again)
    assert parse(await again.text()).headings == ["This link was already used"]
    assert (await client.get(path + "/")).status == 409


async def test_field_errors_show_the_form_again_with_reasons(client, inbox: Inbox) -> None:
    await create_user(client)
    _path, resp = await open_mailed_link(client, inbox)
    page = parse(await resp.text())

    mismatch = await fill_in(client, page, NEW, NEW + "!")
    assert mismatch.status == 400
    assert_page_headers(mismatch)
    html = await mismatch.text()
    shown = parse(html)
    assert shown.forms and "The two passwords do not match." in shown.text
    assert shown.field("re_new_password").get("aria-invalid") == "true"
    assert shown.field("re_new_password").get("aria-describedby") == "re_new_password_errors"
    assert NEW not in html  # passwords are never sent back, not even as field values

    weak = await fill_in(client, shown, "password", "password")
    assert weak.status == 400
    shown = parse(await weak.text())
    assert "This password is too common." in shown.text
    assert shown.field("new_password").get("aria-invalid") == "true"
    assert "new_password_errors" in str(shown.field("new_password").get("aria-describedby"))

    control = await fill_in(client, shown, NEW + "\x00", NEW + "\x00")
    assert control.status == 400
    shown = parse(await control.text())
    assert "Control characters are not allowed." in shown.text

    ok = await fill_in(client, shown, NEW, NEW)
    assert ok.status == 200
    assert (await login(client, OLD)).status == 401


async def test_expired_and_invalid_links_get_pages(
    client, inbox: Inbox, clock: FrozenClock
) -> None:
    for path in ("/reset-password/nope", "/reset-password/nope/"):
        resp = await client.get(path)
        assert resp.status == 404
        assert_page_headers(resp)
        assert parse(await resp.text()).headings == ["This link is not valid"]
    await create_user(client)
    path, resp = await open_mailed_link(client, inbox)
    page = parse(await resp.text())
    clock.advance(301)
    resp = await client.get(path + "/")
    assert resp.status == 410
    assert_page_headers(resp)
    assert parse(await resp.text()).headings == ["This link has expired"]
    late = await fill_in(client, page, NEW, NEW)
    assert late.status == 410
    assert (await login(client, OLD)).status == 200


async def test_the_page_does_not_consume_the_link(client, inbox: Inbox) -> None:
    await create_user(client)
    path, _ = await open_mailed_link(client, inbox)
    for _ in range(3):
        assert (await client.get(path)).status == 200
    uid = path.rsplit("/", 1)[1]
    assert (await client.get(f"/api/auth/password/reset/{uid}/")).status == 200


async def test_a_form_not_rendered_for_this_link_is_refused(client, inbox: Inbox) -> None:
    await create_user(client)
    path, resp = await open_mailed_link(client, inbox)
    page = parse(await resp.text())
    forged = await fill_in(client, page, NEW, NEW, csrf_token="0" * 64)
    assert forged.status == 403
    assert_page_headers(forged)
    missing = await client.post(path, data={"new_password": NEW, "re_new_password": NEW})
    assert missing.status == 403
    cross = await fill_in(client, page, NEW, NEW)
    assert cross.status == 200  # the genuine form still works
    assert (await login(client, NEW)).status == 200


async def test_cross_site_posts_and_non_forms_are_refused(client, inbox: Inbox) -> None:
    await create_user(client)
    _path, resp = await open_mailed_link(client, inbox)
    page = parse(await resp.text())
    [form] = page.forms
    data = {str(i["name"]): i.get("value") or "" for i in page.inputs}
    data.update(new_password=NEW, re_new_password=NEW)
    cross = await client.post(
        str(form["action"]), data=data, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status == 403
    as_json = await client.post(str(form["action"]), json=data)
    assert as_json.status == 415
    assert_page_headers(as_json)
    bad_bytes = await client.post(
        str(form["action"]), data=b"new_password=%FF%FE", headers={"Content-Type": FORM}
    )
    assert bad_bytes.status == 400
    assert (await login(client, OLD)).status == 200


async def test_values_are_escaped_and_nothing_from_the_url_is_echoed(client) -> None:
    resp = await client.get("/reset-password/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert resp.status == 404
    html = await resp.text()
    assert "<script>" not in html and "alert(1)" not in html
    filled = _fill(
        "reset_message.html",
        heading='<img src=x onerror="boom">',
        message="Tom & Jerry's",
        next_step=Html("<a href='/'>home</a>"),
        role="alert",
    )
    assert "&lt;img src=x onerror=&quot;boom&quot;&gt;" in filled
    assert "Tom &amp; Jerry&#x27;s" in filled
    assert "<a href='/'>home</a>" in filled
