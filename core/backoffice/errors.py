"""Back-office failures, as branches of the one hierarchy of ``core.errors``."""

from __future__ import annotations

from core.errors import DomainRuleViolation, NotFound, PermanentError


class SignInFailed(PermanentError):
    """Wrong e-mail or password, a locked or disabled account, or a throttled address.

    One message for every cause, so a caller cannot probe which accounts exist."""

    GENERIC = "Sign-in failed: wrong e-mail or password, or the account is locked for now."

    def __init__(self, reason: str) -> None:
        super().__init__(self.GENERIC)
        self.reason = reason  # for the audit log only, never shown


class SessionInvalid(PermanentError):
    """No session, an unknown, expired or forged token, or a disabled operator's session."""


class AccessDenied(PermanentError):
    """The operator's role does not allow the action."""


class UnknownOperator(NotFound):
    """No operator of that id or e-mail."""


class OperatorExists(DomainRuleViolation):
    """An operator with that e-mail already exists."""


class InvalidInput(DomainRuleViolation):
    """A form field is invalid; ``field`` names it so the page shows the error beside it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
