"""Pydantic models of the Kafka contract and of campaign rules. No I/O."""
