"""The accounts service client. Holds the current login like a SimpleJWT client: the access
token goes in each authenticated request; it is refreshed shortly before it expires, and one
401 `token_invalid` still triggers one refresh and one retry (the server decides, not us)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from contract.accounts import Detail, SignupVerified
from tui.client.exchange import HttpLog
from tui.client.http import HEALTH_TIMEOUT, Reply, Transport, decoded
from tui.client.models import (
    CodeSent,
    Health,
    ResetCheck,
    Session,
    SignupStarted,
    TokenPair,
    User,
    Verified,
)
from tui.client.problem import ApiProblem

USER_AGENT = "acctkit-tui"
# Refresh this long before the access token expires, or a quarter of its life if that is
# shorter (a short-lived token still leaves its timer room to run late on a busy machine).
REFRESH_AHEAD_SECONDS = 30.0


class AccountsClient:
    """Every route of the accounts service.

    Expiry is measured on our monotonic clock from when a token arrived, for the lifetime the
    token states (`exp - iat`): the service's clock and ours may disagree, its durations do not.
    """

    def __init__(
        self,
        base_url: str,
        log: HttpLog | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log if log is not None else HttpLog()
        self._http = Transport(base_url, "accounts", self.log)
        # What the Sessions view shows for this login (the service records the User-Agent).
        self._http.headers["User-Agent"] = USER_AGENT
        self._tokens: TokenPair | None = None
        self._refresh_due: float | None = None
        self._clock = clock
        self._refreshing: asyncio.Lock | None = None

    @property
    def tokens(self) -> TokenPair | None:
        return self._tokens

    @tokens.setter
    def tokens(self, pair: TokenPair | None) -> None:
        self._tokens = pair
        lifetime = access_lifetime(pair.access) if pair is not None else None
        self._refresh_due = (
            None
            if lifetime is None
            else self._clock() + lifetime - min(REFRESH_AHEAD_SECONDS, lifetime / 4)
        )

    def refresh_in(self) -> float | None:
        """Seconds until the access token should be refreshed (<= 0: now); None if there is
        no login or the token states no lifetime."""
        return None if self._refresh_due is None else self._refresh_due - self._clock()

    async def refresh_if_due(self) -> bool:
        """Refresh ahead of expiry when it is time; True if this call (or one it joined) did.
        A refused refresh ends the login; an unreachable service leaves it for the next try."""
        due = self.refresh_in()
        if due is None or due > 0 or self._tokens is None:
            return False
        await self._refresh_once(self._tokens)
        return True

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def logged_in(self) -> bool:
        return self.tokens is not None

    async def close(self) -> None:
        await self._http.close()

    async def _post(self, path: str, body: dict[str, Any]) -> Reply:
        return await self._http.request("POST", path, json_body=body)

    async def _authed(self, method: str, path: str, **kwargs: Any) -> Reply:
        if self.tokens is None:
            raise ApiProblem(401, "not_logged_in", "Log in first: this route needs a token.")
        used = self.tokens
        try:
            return await self._http.request(
                method, path, headers={"Authorization": f"Bearer {used.access}"}, **kwargs
            )
        except ApiProblem as problem:
            if problem.status != 401 or problem.code != "token_invalid":
                raise
        await self._refresh_once(used)
        assert self.tokens is not None
        return await self._http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens.access}"}, **kwargs
        )

    async def _refresh_once(self, used: TokenPair) -> None:
        """Refresh once, even if several calls (a 401, the timer) want it together: a refresh
        token is single use, and two concurrent refreshes would look like reuse and revoke the
        login."""
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if self.tokens is not used:
                if self.tokens is None:
                    raise ApiProblem(401, "not_logged_in", "The login ended; log in again.")
                return
            try:
                await self.refresh()
            except ApiProblem as problem:
                if problem.status in (400, 401):
                    self.tokens = None
                raise

    # signup
    async def signup_start(
        self, *, first_name: str, last_name: str, username: str, email: str, password: str
    ) -> SignupStarted:
        reply = await self._post(
            "/api/auth/signup/",
            {
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "email": email,
                "password": password,
            },
        )
        return decoded(reply, SignupStarted)

    async def signup_verify(self, signup_id: str, code: str) -> Verified:
        reply = await self._post("/api/auth/signup/verify/", {"signup_id": signup_id, "code": code})
        answer = decoded(reply, SignupVerified)
        verified = Verified(answer.user, TokenPair(answer.access, answer.refresh))
        self.tokens = verified.tokens
        return verified

    async def signup_resend(self, signup_id: str) -> CodeSent:
        reply = await self._post("/api/auth/signup/resend/", {"signup_id": signup_id})
        return decoded(reply, CodeSent)

    # tokens
    async def login(self, username: str, password: str) -> TokenPair:
        reply = await self._post("/api/token/", {"username": username, "password": password})
        self.tokens = decoded(reply, TokenPair)
        return self.tokens

    async def refresh(self) -> TokenPair:
        if self.tokens is None:
            raise ApiProblem(401, "not_logged_in", "There is no refresh token: log in first.")
        reply = await self._post("/api/token/refresh/", {"refresh": self.tokens.refresh})
        self.tokens = decoded(reply, TokenPair)
        return self.tokens

    async def verify_token(self, token: str | None = None) -> bool:
        """True when the server accepts `token` (default: the current access token)."""
        if token is None:
            if self.tokens is None:
                return False
            token = self.tokens.access
        try:
            await self._post("/api/token/verify/", {"token": token})
        except ApiProblem as problem:
            if problem.status == 401:
                return False
            raise
        return True

    async def logout(self) -> None:
        """Revoke this login's refresh token and forget the tokens (even if the server says the
        token was already invalid: the user asked to be logged out)."""
        tokens, self.tokens = self.tokens, None
        if tokens is not None:
            try:
                await self._post("/api/token/revoke/", {"refresh": tokens.refresh})
            except ApiProblem as problem:
                if problem.status != 401:
                    raise

    async def logout_all(self) -> None:
        await self._authed("POST", "/api/auth/logout-all/")
        self.tokens = None

    # me
    async def me(self) -> User:
        return decoded(await self._authed("GET", "/api/me/"), User)

    async def update_me(self, **changes: str) -> User:
        return decoded(await self._authed("PATCH", "/api/me/", json_body=changes), User)

    async def delete_me(self, password: str) -> None:
        await self._authed("DELETE", "/api/me/", json_body={"password": password})
        self.tokens = None

    async def change_password(self, current_password: str, new_password: str) -> TokenPair:
        reply = await self._authed(
            "POST",
            "/api/me/password/",
            json_body={"current_password": current_password, "new_password": new_password},
        )
        self.tokens = decoded(reply, TokenPair)
        return self.tokens

    async def email_change(self, email: str, password: str) -> CodeSent:
        reply = await self._authed(
            "POST", "/api/me/email/", json_body={"email": email, "password": password}
        )
        return decoded(reply, CodeSent)

    async def email_verify(self, code: str) -> User:
        reply = await self._authed("POST", "/api/me/email/verify/", json_body={"code": code})
        return decoded(reply, User)

    async def put_avatar(self, path: str | Path) -> User:
        name, content = await asyncio.to_thread(_read_file, path)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        form = aiohttp.FormData()
        form.add_field("avatar", content, filename=name, content_type=content_type)
        reply = await self._authed(
            "PUT",
            "/api/me/avatar/",
            data=form,
            logged_body=f"multipart avatar: {name} ({content_type}, {len(content)} bytes)",
        )
        return decoded(reply, User)

    async def avatar_image(self, avatar_url: str) -> bytes:
        """The avatar's bytes (a public route): the reply body stays bytes, since the shared
        request path decodes bodies as text for the log, which would mangle an image."""
        reply = await self._http.request("GET", avatar_url, raw=True)
        assert isinstance(reply.body, bytes)
        return reply.body

    async def delete_avatar(self) -> None:
        await self._authed("DELETE", "/api/me/avatar/")

    # sessions: each login (refresh-token family) of the signed-in user
    async def sessions(self) -> list[Session]:
        return decoded(await self._authed("GET", "/api/me/sessions/"), list[Session])

    async def end_session(self, session_id: str, *, current: bool = False) -> None:
        """End one login; ending the caller's own is a logout, so the tokens are dropped."""
        await self._authed("DELETE", f"/api/me/sessions/{quote(session_id, safe='')}/")
        if current:
            self.tokens = None

    # password reset
    async def reset_request(self, email: str) -> str:
        reply = await self._post("/api/auth/password/reset/", {"email": email})
        return decoded(reply, Detail).detail

    async def reset_check(self, uid: str) -> ResetCheck:
        reply = await self._http.request("GET", f"/api/auth/password/reset/{quote(uid, safe='')}/")
        return decoded(reply, ResetCheck)

    async def reset_confirm(self, uid: str, new_password: str, re_new_password: str) -> None:
        await self._post(
            "/api/auth/password/reset/confirm/",
            {"uid": uid, "new_password": new_password, "re_new_password": re_new_password},
        )

    # operations
    async def healthz(self) -> Health:
        return decoded(await self._http.request("GET", "/healthz"), Health)

    async def ready(self) -> Health:
        """/readyz (it checks the database) with a short timeout. Not logged: the health
        indicator shows it, and a poll every few seconds would flood the log."""
        reply = await self._http.request(
            "GET", "/readyz", client_timeout=HEALTH_TIMEOUT, recorded=False
        )
        return decoded(reply, Health)


def access_lifetime(token: str) -> float | None:
    """`exp - iat` of a JWT, read without verifying it: the client only schedules a refresh
    with it; the service still verifies every token it is handed."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - float(claims["iat"])
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return None


def _read_file(path: str | Path) -> tuple[str, bytes]:
    file = Path(path).expanduser()
    return file.name, file.read_bytes()


def uid_from(link_or_uid: str) -> str:
    """The reset UID from a pasted mail link (`.../reset-password/<uid>`) or the bare UID."""
    text = link_or_uid.strip()
    if "://" in text or text.startswith("/"):
        parts = [p for p in urlsplit(text).path.split("/") if p]
        return parts[-1] if parts else ""
    return text
