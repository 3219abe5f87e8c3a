"""The live strip over every step that waits for a mailed code or link: which code the service
expects, how long it lives, how many tries are left and when a resend is allowed, ticking each
second. "The code is wrong" is most often "that code is dead": this says so before anyone types."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from textual.message import Message
from textual.widgets import Static

Now = Callable[[], datetime]


def span(seconds: float) -> str:
    """`7:42`, `0:05`, `1:02:03`: what a person reads on a countdown."""
    whole = max(0, int(seconds + 0.999))  # 0.4 s left still reads 0:01, not "expired"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class WaitStrip(Static):
    """`code #N · 7:42 left · 3 attempts left · resend in 0:42`, from the server's own
    `expires_at`, `resend_after` and `attempts_left`. Time comes from the app's clock (`now`),
    so tests move it instead of sleeping. Posts `ResendChanged` when a resend becomes allowed
    (or stops being), so the pane enables its Resend button at that very second."""

    class ResendChanged(Message):
        def __init__(self, strip: WaitStrip, allowed: bool) -> None:
            super().__init__()
            self.strip = strip
            self.allowed = allowed

        @property
        def control(self) -> WaitStrip:
            return self.strip

    def __init__(self, kind: str = "code", id: str | None = None) -> None:
        super().__init__("", id=id, classes="wait-strip", markup=False)
        self.kind = kind  # "code" or "link"
        self.seq: int | None = None
        self.expires_at: datetime | None = None
        self.resend_after: datetime | None = None
        self.attempts_left: int | None = None
        self.locked = False
        self.done = ""  # set when the wait is over ("verified", "used"): the clock stops mattering
        self.active = False
        self._allowed: bool | None = None

    def on_mount(self) -> None:
        self.set_interval(1, self.tick)
        self.display = False

    def now(self) -> datetime:
        clock = getattr(self.app, "now", None)
        return clock() if callable(clock) else datetime.now(UTC)

    def wait(
        self,
        *,
        seq: int | None = None,
        expires_at: datetime | None = None,
        resend_after: datetime | None = None,
        attempts_left: int | None = None,
    ) -> None:
        """Start (or restart, after a resend) waiting for one code or link."""
        self.active = True
        self.done = ""
        self.locked = False
        self.seq = seq
        self.expires_at = expires_at
        self.resend_after = resend_after
        self.attempts_left = attempts_left
        self.display = True
        self.tick()

    def stop(self, done: str = "") -> None:
        """The wait is over: `done` says why (shown), or an empty strip hides."""
        self.done = done
        self.active = bool(done)
        self.display = bool(done)
        self.tick()

    def resend_in(self, seconds: float) -> None:
        """A 429 said how long to wait; it wins over what the 202 said."""
        self.resend_after = self.now() + timedelta(seconds=seconds)
        self.tick()

    @property
    def seconds_left(self) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - self.now()).total_seconds()

    @property
    def expired(self) -> bool:
        left = self.seconds_left
        return left is not None and left <= 0

    @property
    def resend_allowed(self) -> bool:
        # locked: the service refuses a resend too (a signup must start again)
        if not self.active or self.done or self.locked or self.kind != "code":
            return False
        return self.resend_after is None or self.now() >= self.resend_after

    def describe(self) -> str:
        if self.done:
            return f"{self._what()} · {self.done}"
        parts = [self._what()]
        left = self.seconds_left
        if left is not None:
            parts.append("expired" if left <= 0 else f"{span(left)} left")
        if self.locked:
            parts.append("locked: no attempts left")
        elif self.attempts_left is not None:
            s = "" if self.attempts_left == 1 else "s"
            parts.append(f"{self.attempts_left} attempt{s} left")
        if self.kind == "code" and not self.locked:
            after = self.resend_after
            seconds = 0.0 if after is None else (after - self.now()).total_seconds()
            parts.append(f"resend in {span(seconds)}" if seconds > 0 else "resend allowed")
        return " · ".join(parts)

    def _what(self) -> str:
        if self.kind == "link":
            return "reset link"
        return f"code #{self.seq}" if self.seq is not None else "code"

    def tick(self) -> None:
        if not self.active:
            return
        self.update(self.describe())
        self.set_class(self.expired or self.locked, "-dead")
        allowed = self.resend_allowed
        if allowed != self._allowed:
            self._allowed = allowed
            self.post_message(self.ResendChanged(self, allowed))
