"""devmail: a standalone mail catcher for developing and testing acctkit.

It speaks SMTP (aiosmtpd) and serves a Mailpit-compatible HTTP API (aiohttp) from one event
loop, and imports nothing from the rest of acctkit so it can run beside any service.
"""

__version__ = "0.1.0"
