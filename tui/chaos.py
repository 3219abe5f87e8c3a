"""devmail's faults on demand (`GET|PUT /api/v1/chaos`), as the mailbox offers them: a few
presets a key cycles through, and one line that says what is switched on now (read back from
devmail, so a fault set by a test or by curl shows too)."""

from __future__ import annotations

from contract.mailpit import ChaosTrigger, ChaosTriggers

STAGES = ("Authentication", "Sender", "Recipient", "Data")

# (name, triggers): the cycle starts and ends with everything off.
PRESETS: tuple[tuple[str, ChaosTriggers], ...] = (
    ("off", ChaosTriggers()),
    ("Sender 451 50%", ChaosTriggers(Sender=ChaosTrigger(ErrorCode=451, Probability=50))),
    ("Data 451 100%", ChaosTriggers(Data=ChaosTrigger(ErrorCode=451, Probability=100))),
)


def describe(triggers: ChaosTriggers) -> str:
    """What devmail does to SMTP now, in a few words: 'off', or each fault that can fire."""
    parts = [
        f"{stage} {trigger.ErrorCode} {trigger.Probability}%"
        for stage in STAGES
        if (trigger := getattr(triggers, stage)).Probability
    ]
    if triggers.Disconnect.Probability:
        parts.append(f"drop at {triggers.Disconnect.Stage} {triggers.Disconnect.Probability}%")
    latency = triggers.Latency
    if latency.Milliseconds and latency.Probability:
        parts.append(f"+{latency.Milliseconds} ms at {latency.Stage} {latency.Probability}%")
    return ", ".join(parts) or "off"


def next_preset(triggers: ChaosTriggers) -> tuple[str, ChaosTriggers]:
    """The preset after the one in force; anything else (set elsewhere) goes to off."""
    shown = describe(triggers)
    names = [name for name, _ in PRESETS]
    if shown in names:
        return PRESETS[(names.index(shown) + 1) % len(PRESETS)]
    return PRESETS[0]
