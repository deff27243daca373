# One-command entry points (each runs scripts/setup.sh first, so a fresh machine works).
.PHONY: setup test lint demo up bench

setup:
	@bash scripts/setup.sh

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

demo: setup
	.venv/bin/redeemflow demo

up: setup
	.venv/bin/redeemflow up

bench: setup
	.venv/bin/python bench/generate.py
	.venv/bin/python bench/redeem.py
