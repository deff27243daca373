"""Who is calling: a tenant's back end (``x-api-key``) or one of its end users
(``Authorization: Bearer <token>``, core/tokens.py). Parse, call core, answer 401 on failure.

A refused token always gets the same message (:data:`TOKEN_REFUSED`), whatever the reason
(malformed, forged, expired, another tenant, another product, ``alg: none``, signed with the
API key...); the reason is logged at INFO for the operator.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass

from starlette.datastructures import Headers

from core.apikeys import ApiKeyResolver
from core.errors import InvalidToken
from core.tokens import EndUser, TokenVerifier, key_id_of

log = logging.getLogger("redeemflow.gateway.auth")

TOKEN_REFUSED = "invalid or expired token"


class Unauthorized(Exception):
    """No valid credentials (answered 401 with ``WWW-Authenticate: scheme``; nothing
    published)."""

    def __init__(self, message: str, scheme: str = "ApiKey") -> None:
        super().__init__(message)
        self.scheme = scheme


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
    """API keys and end-user tokens -> :class:`Principal` (store reads off the event loop)."""

    def __init__(self, keys: ApiKeyResolver, tokens: TokenVerifier, executor: Executor) -> None:
        self._keys = keys
        self._tokens = tokens
        self._executor = executor

    async def principal(self, headers: Headers) -> Principal:
        """The caller of a request, from its headers; Unauthorized otherwise."""
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if authorization is not None:
            if api_key is not None:
                raise Unauthorized("send x-api-key or a bearer token, not both", "Bearer")
            user = await self.end_user(authorization)
            return Principal(user.tenant_id, user)
        return Principal(await self.tenant_of_key(api_key))

    async def tenant_of_key(self, api_key: str | None) -> str:
        """The tenant of an active API key; Unauthorized when missing, unknown or revoked."""
        if not api_key:
            raise Unauthorized("missing x-api-key header (or Authorization: Bearer <token>)")
        hit, tenant = self._keys.cached(api_key)
        if not hit:
            loop = asyncio.get_running_loop()
            tenant = await loop.run_in_executor(self._executor, self._keys.resolve, api_key)
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
                loop = asyncio.get_running_loop()
                tenant = await loop.run_in_executor(
                    self._executor, self._tokens.load_tenant, key_id
                )
            return self._tokens.verify(token, key_id, tenant)
        except InvalidToken as exc:
            raise token_refused(str(exc)) from exc
