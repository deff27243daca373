"""Domain logic, ports, adapters for MySQL/Redis/Kafka and wiring. Never imports faust."""
