"""The one exception hierarchy of redeemflow.

Every failure a caller must react to is one of these; library exceptions (pymysql,
SQLAlchemy, redis, confluent-kafka) are translated at the adapter edge with
``raise ... from exc`` so callers never catch a driver's type.

::

    RedeemflowError
    ├── RetryableError                  transient: back off and try the same work again
    │   ├── StorageUnavailable          MySQL unreachable, deadlock, lock wait timeout
    │   ├── CacheUnavailable            Redis unreachable or timing out
    │   ├── BrokerUnavailable           Kafka unreachable, delivery timed out
    │   ├── ConcurrentUpdate            another worker wrote the same request first
    │   └── TimedOut                    an awaited effect (a worker applying an event) is late
    └── PermanentError                  retrying the same input fails the same way
        ├── InvalidMessage              bytes that are not a valid contract message -> DLQ
        ├── InvalidToken                an end-user token that does not verify (-> 401)
        ├── ConfigurationError          settings or environment unusable
        │   └── KeyMaterialError        a code key file/value unusable or not the stored key
        │       └── UnknownCodeKey      a sealed code names a key id that is not configured
        ├── TamperedCode                a sealed code does not authenticate
        ├── NotFound                    a named tenant/campaign/batch does not exist
        │   ├── UnknownTenant
        │   └── UnknownCampaign
        ├── AmbiguousCampaign           a campaign id names campaigns of several tenants
        ├── DomainRuleViolation         the request breaks a business rule
        │   ├── TenantSuspended
        │   ├── QuotaExceeded
        │   ├── InvalidRule
        │   ├── CodeSpaceTooSmall
        │   ├── ConflictingCampaign
        │   ├── ExportRefused
        │   └── PoolExhausted
        └── DeliveryFailed              the broker refused a message for good
"""

from __future__ import annotations


class RedeemflowError(Exception):
    """Base of every error redeemflow raises on purpose."""


class RetryableError(RedeemflowError):
    """A transient failure: the same work may succeed after a back-off."""


class StorageUnavailable(RetryableError):
    """MySQL could not be reached or asked us to retry (deadlock, lock wait timeout)."""


class CacheUnavailable(RetryableError):
    """Redis could not be reached or timed out."""


class BrokerUnavailable(RetryableError):
    """The Kafka broker could not be reached or a delivery timed out."""


class ConcurrentUpdate(RetryableError):
    """Another worker recorded the same request meanwhile; retrying replays its outcome."""


class TimedOut(RetryableError):
    """Something awaited (e.g. a worker applying a published event) did not happen in time."""


class PermanentError(RedeemflowError):
    """A failure that repeats for the same input: route it (DLQ, error result), do not retry."""


class InvalidMessage(PermanentError):
    """Bytes that do not decode into a valid contract message."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidToken(PermanentError):
    """An end-user token is malformed, forged, expired, for another tenant or product.

    The reason is for logs only: callers answer one generic message, so a caller cannot
    probe which check failed."""


class ConfigurationError(PermanentError):
    """Settings or the environment make the operation impossible."""


class KeyMaterialError(ConfigurationError):
    """The code keys (key file, ``REDEEMFLOW_CODE_*``) are unusable: unreadable, malformed,
    of the wrong length, or not the keys this database's codes were protected with."""


class UnknownCodeKey(KeyMaterialError):
    """A sealed code (or the active key id) names a key id that is not configured."""


class TamperedCode(PermanentError):
    """A sealed code does not authenticate: altered, moved from another row, or the key
    configured under its key id is not the one that sealed it."""


class NotFound(PermanentError):
    """A named object does not exist."""


class UnknownTenant(NotFound):
    """The tenant is not in the registry."""


class UnknownCampaign(NotFound):
    """The campaign does not exist for this tenant."""


class AmbiguousCampaign(PermanentError):
    """A campaign id alone does not say which tenant is meant."""


class DomainRuleViolation(PermanentError):
    """The request breaks a business rule."""


class TenantSuspended(DomainRuleViolation):
    """The tenant exists but is not active."""


class QuotaExceeded(DomainRuleViolation):
    """The tenant's code quota would be exceeded."""


class InvalidRule(DomainRuleViolation):
    """A code generation or campaign rule is inconsistent."""


class CodeSpaceTooSmall(DomainRuleViolation):
    """A rule's code space cannot hold the requested number of codes safely."""


class ConflictingCampaign(DomainRuleViolation):
    """A campaign id is already taken with different content."""


class ExportRefused(DomainRuleViolation):
    """An export cannot be served (not enough codes, not the owner)."""


class PoolExhausted(DomainRuleViolation):
    """No pre-generated code is left to allocate."""


class DeliveryFailed(PermanentError):
    """The broker rejected a message permanently (too large, unknown topic...)."""
