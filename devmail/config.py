"""The one settings object devmail is started with."""

from __future__ import annotations

from dataclasses import dataclass

from contract.mailpit import ChaosTriggers

DEFAULT_MAX_MESSAGES = 10_000
# aiosmtpd's own default; big enough for a 10 MiB attachment after base64 inflation.
DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Config:
    """Everything the CLI can set; ports of 0 bind ephemeral ports (tests, parallel runs)."""

    host: str = "127.0.0.1"
    smtp_port: int = 1025
    http_port: int = 8025
    db_path: str | None = None
    max_messages: int = DEFAULT_MAX_MESSAGES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    auth: bool = False
    # Name given in the SMTP greeting; set explicitly so aiosmtpd never calls getfqdn().
    hostname: str = "devmail.localhost"
    # Faults on demand from the start (the --chaos-* flags); None: none until PUT /api/v1/chaos.
    chaos: ChaosTriggers | None = None
    # Worker processes that parse while several connections deliver; 0: the loop parses.
    parsers: int = 0
    # Host names answered besides localhost, *.localhost and IP addresses when bound to a
    # loopback address (devmail.rebinding).
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_messages < 0:
            raise ValueError("max_messages must be 0 (unlimited) or positive")
        if self.max_message_bytes < 0:
            raise ValueError("max_message_bytes must be 0 (unlimited) or positive")
        if self.parsers < 0:
            raise ValueError("parsers must be 0 (parse on the event loop) or positive")
        for name in ("smtp_port", "http_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"{name} must be between 0 and 65535")
