"""Faults on demand (Mailpit's "chaos", MailHog's "Jim"): SMTP errors, drops and latency.

A sender's retry logic is only trusted once it has met a server that says 451, hangs up or
answers slowly. The triggers are `contract.mailpit.ChaosTriggers`, changed at run time over
`PUT /api/v1/chaos` or set at start with the `--chaos-*` flags. Probability 0 never fires and
100 always does, without a draw; anything between draws from a `random.Random` seeded with
`Seed` when given, so a test can replay the same sequence of faults.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Literal

import msgspec

from contract.mailpit import ChaosStage, ChaosTrigger, ChaosTriggers

ERROR_STAGES: tuple[ChaosStage, ...] = ("Authentication", "Sender", "Recipient", "Data")
# How the --chaos-* flags and the SMTP verbs name the stages.
VERB_STAGES: dict[str, ChaosStage] = {
    "connect": "Connect",
    "auth": "Authentication",
    "authentication": "Authentication",
    "mail": "Sender",
    "sender": "Sender",
    "rcpt": "Recipient",
    "recipient": "Recipient",
    "data": "Data",
}


@dataclass(frozen=True)
class Verdict:
    """What to do at a stage: nothing, answer `reply` (an SMTP error line), or hang up."""

    action: Literal["pass", "reply", "drop"]
    reply: str = ""


PASS = Verdict("pass")


class Chaos:
    def __init__(self, triggers: ChaosTriggers | None = None) -> None:
        self._triggers = ChaosTriggers()
        self._random = random.Random()
        self.faults = 0
        self.set(triggers or ChaosTriggers())

    @property
    def triggers(self) -> ChaosTriggers:
        return self._triggers

    def set(self, triggers: ChaosTriggers) -> ChaosTriggers:
        """Replace every trigger (one left out is off, as in Mailpit) and restart the draws."""
        self._triggers = msgspec.structs.replace(triggers)
        self._random = random.Random(triggers.Seed)
        return self._triggers

    @property
    def active(self) -> bool:
        t = self._triggers
        errors = any(getattr(t, stage).Probability for stage in ERROR_STAGES)
        latency = t.Latency.Milliseconds > 0 and t.Latency.Probability > 0
        return errors or latency or t.Disconnect.Probability > 0

    def _fires(self, probability: int) -> bool:
        if probability <= 0:
            return False
        if probability >= 100:
            return True
        return self._random.random() * 100 < probability

    async def at(self, stage: ChaosStage) -> Verdict:
        """Decide (and, for latency, wait) before devmail answers the command of `stage`."""
        t = self._triggers
        if not self.active:
            return PASS
        latency = t.Latency
        if latency.Stage == stage and latency.Milliseconds and self._fires(latency.Probability):
            await asyncio.sleep(latency.Milliseconds / 1000)
        if t.Disconnect.Stage == stage and self._fires(t.Disconnect.Probability):
            self.faults += 1
            return Verdict("drop")
        if stage in ERROR_STAGES:
            trigger: ChaosTrigger = getattr(t, stage)
            if self._fires(trigger.Probability):
                self.faults += 1
                code = trigger.ErrorCode
                return Verdict("reply", f"{code} {code // 100}.3.0 devmail chaos: {stage} fault")
        return PASS


def parse_triggers(spec: str, into: ChaosTriggers | None = None) -> ChaosTriggers:
    """Mailpit's `--chaos-triggers` form: "Sender:451:50,Recipient:550:100" (stage:code:percent).

    Raises ValueError with a sentence for the command line.
    """
    values = msgspec.structs.asdict(into or ChaosTriggers())
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            name, code, probability = item.split(":")
            stage = VERB_STAGES[name.strip().lower()]
            trigger = ChaosTrigger(ErrorCode=int(code), Probability=int(probability))
        except (ValueError, KeyError):
            raise ValueError(
                f"bad chaos trigger {item!r}: use STAGE:CODE:PERCENT, STAGE one of"
                " Authentication, Sender, Recipient, Data"
            ) from None
        if stage == "Connect":
            raise ValueError("the Connect stage takes --chaos-disconnect or --chaos-latency")
        values[stage] = trigger
    return _checked(values)


def _checked(values: dict[str, object]) -> ChaosTriggers:
    try:
        return msgspec.convert(msgspec.to_builtins(values), type=ChaosTriggers, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ValueError(f"bad chaos setting: {exc}") from None


def with_disconnect(triggers: ChaosTriggers, spec: str) -> ChaosTriggers:
    """`--chaos-disconnect STAGE:PERCENT`."""
    try:
        name, probability = spec.split(":")
        stage = VERB_STAGES[name.strip().lower()]
        values = msgspec.structs.asdict(triggers)
        values["Disconnect"] = {"Stage": stage, "Probability": int(probability)}
    except (ValueError, KeyError):
        raise ValueError(f"bad --chaos-disconnect {spec!r}: use STAGE:PERCENT") from None
    return _checked(values)


def with_latency(triggers: ChaosTriggers, spec: str) -> ChaosTriggers:
    """`--chaos-latency MILLISECONDS[:STAGE[:PERCENT]]` (stage Data, 100% by default)."""
    parts = spec.split(":")
    try:
        if not 1 <= len(parts) <= 3:
            raise ValueError
        milliseconds = int(parts[0])
        stage = VERB_STAGES[parts[1].strip().lower()] if len(parts) > 1 else "Data"
        probability = int(parts[2]) if len(parts) > 2 else 100
    except (ValueError, KeyError):
        raise ValueError(f"bad --chaos-latency {spec!r}: use MS[:STAGE[:PERCENT]]") from None
    values = msgspec.structs.asdict(triggers)
    values["Latency"] = {"Stage": stage, "Milliseconds": milliseconds, "Probability": probability}
    return _checked(values)


def with_seed(triggers: ChaosTriggers, seed: int) -> ChaosTriggers:
    values = msgspec.structs.asdict(triggers)
    values["Seed"] = seed
    return _checked(values)
