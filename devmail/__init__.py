"""devmail: a standalone mail catcher with a Mailpit-style API.

It speaks SMTP (aiosmtpd) and serves the HTTP API (aiohttp) from one event loop, and imports
nothing from the rest of acctkit so it can run beside any service.
"""

__version__ = "0.1.0"
