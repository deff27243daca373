"""Who is calling: a tenant's back end (``x-api-key``) or one of its end users
(``Authorization: Bearer <token>``, core/tokens.py). Parse, call core, answer 401 on failure.

A refused token always gets the same message (:data:`TOKEN_REFUSED`), whatever the reason
(malformed, forged, expired, another tenant, another product, ``alg: none``, signed with the
API key...); the reason is logged at INFO for the operator.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass

from starlette.datastructures import Headers

from core.apikeys import ApiKeyResolver
from core.errors import InvalidToken
from core.redemption.tenant_status import TenantStatuses
from core.tokens import EndUser, TokenVerifier, key_id_of
from producers.gateway.single_flight import SingleFlight

log = logging.getLogger("redeemflow.gateway.auth")

TOKEN_REFUSED = "invalid or expired token"


class Unauthorized(Exception):
    """No valid credentials (answered 401 with ``WWW-Authenticate: scheme``; nothing
    published)."""

    def __init__(self, message: str, scheme: str = "ApiKey") -> None:
        super().__init__(message)
        self.scheme = scheme


class TenantInactive(Exception):
    """The caller's tenant is SUSPENDED or CLOSED (answered 403 ``tenant_inactive``)."""


def token_refused(reason: str) -> Unauthorized:
    """The one 401 of every token failure (``reason`` goes to the log only)."""
    log.info("end-user token refused: %s", reason)
    return Unauthorized(TOKEN_REFUSED, "Bearer")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a tenant, and the end user when a token was presented."""

    tenant_id: str
    end_user: EndUser | None = None


class Authenticator:
    """API keys and end-user tokens -> :class:`Principal` (store reads off the event loop,
    one at a time per key however many requests need it: see single_flight.py)."""

    def __init__(
        self,
        keys: ApiKeyResolver,
        tokens: TokenVerifier,
        executor: Executor,
        tenants: TenantStatuses | None = None,
    ) -> None:
        self._keys = keys
        self._tokens = tokens
        self._tenants = tenants
        self._reads = SingleFlight(executor)

    async def principal(self, headers: Headers) -> Principal:
        """The caller of a request, from its headers; Unauthorized otherwise, TenantInactive
        when the caller's tenant is SUSPENDED or CLOSED."""
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if authorization is not None:
            if api_key is not None:
                raise Unauthorized("send x-api-key or a bearer token, not both", "Bearer")
            user = await self.end_user(authorization)
            principal = Principal(user.tenant_id, user)
        else:
            principal = Principal(await self.tenant_of_key(api_key))
        await self._require_active(principal.tenant_id)
        return principal

    async def _require_active(self, tenant_id: str) -> None:
        """TenantInactive for a SUSPENDED/CLOSED tenant (statuses cached as the workers do,
        for ``tenant_status_refresh_seconds``)."""
        if self._tenants is None:
            return
        if self._tenants.stale([tenant_id]):
            await self._reads.run(("tenant", tenant_id), self._tenants.refresh, [tenant_id])
        if self._tenants.inactive(tenant_id):
            raise TenantInactive(f"tenant {tenant_id} is suspended or closed: its keys and "
                                 "tokens are refused")

    async def tenant_of_key(self, api_key: str | None) -> str:
        """The tenant of an active API key; Unauthorized when missing, unknown or revoked."""
        if not api_key:
            raise Unauthorized("missing x-api-key header (or Authorization: Bearer <token>)")
        hit, tenant = self._keys.cached(api_key)
        if not hit:
            tenant = await self._reads.run(("api key", api_key), self._keys.resolve, api_key)
        if tenant is None:
            raise Unauthorized("invalid API key")
        return tenant

    async def end_user(self, authorization: str) -> EndUser:
        """The end user of a ``Bearer`` token; the generic 401 for any failure."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise token_refused(f"authorization scheme {scheme[:16]!r}")
        token = token.strip()
        try:
            key_id = key_id_of(token)
            hit, tenant = self._tokens.cached_tenant(key_id)
            if not hit:
                tenant = await self._reads.run(("signing key", key_id),
                                               self._tokens.load_tenant, key_id)
            return self._tokens.verify(token, key_id, tenant)
        except InvalidToken as exc:
            raise token_refused(str(exc)) from exc
