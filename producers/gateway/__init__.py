"""The HTTP gateway: ``POST /api/redeem`` over the Kafka request/result contract."""

from __future__ import annotations

from producers.gateway.app import create_app

__all__ = ["create_app"]
