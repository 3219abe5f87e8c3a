"""The only package of the TUI that speaks HTTP: the accounts service and the devmail catcher.

Every call returns a frozen dataclass or raises `ApiProblem`, and every exchange is recorded
(secrets masked) in an `HttpLog`, because the point of the TUI is to let a developer *see* what
went over the wire when "the emailed code is invalid". Nothing here knows about Textual.
"""

from tui.client.accounts import USER_AGENT, AccountsClient, uid_from
from tui.client.exchange import LOG_SIZE, MASK, Exchange, HttpLog, mask
from tui.client.mail import MailClient
from tui.client.models import (
    CodeSent,
    Health,
    MailAddress,
    MailEvent,
    MailMessage,
    MailPage,
    MailSummary,
    ResetCheck,
    Session,
    SignupStarted,
    TokenPair,
    User,
    Verified,
)
from tui.client.problem import ApiProblem

__all__ = [
    "LOG_SIZE",
    "MASK",
    "USER_AGENT",
    "AccountsClient",
    "ApiProblem",
    "CodeSent",
    "Exchange",
    "Health",
    "HttpLog",
    "MailAddress",
    "MailClient",
    "MailEvent",
    "MailMessage",
    "MailPage",
    "MailSummary",
    "ResetCheck",
    "Session",
    "SignupStarted",
    "TokenPair",
    "User",
    "Verified",
    "mask",
    "uid_from",
]
