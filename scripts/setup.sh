#!/usr/bin/env bash
# Everything a fresh machine needs: local MariaDB and Redis running, a virtualenv with
# redeemflow and its dev tools installed. Safe to run again (it only does what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "$name did not come up"; return 1
}

if ! mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mysqladmin -uroot -h127.0.0.1 ping
fi

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 ping
fi

# Debian packages the tests drive: headless Chromium and its driver (back office and SDK
# browser tests) and wrk (HTTP load in bench/gateway.py). Installed once, when missing.
apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
command -v wrk >/dev/null 2>&1 || apt_packages+=(wrk)
if [ ${#apt_packages[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing ${apt_packages[*]}"
  apt-get update -q >/dev/null 2>&1 || log "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${apt_packages[@]}" fonts-noto-cjk >/dev/null 2>&1 || log "could not install ${apt_packages[*]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.redeemflow-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing redeemflow[dev] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
# mysqlclient (C driver of the redemption hot path) needs the client headers to build;
# without them redeemflow runs on pymysql alone, only slower.
if ! .venv/bin/python -c "import MySQLdb" >/dev/null 2>&1; then
  if ! pkg-config --exists libmariadb 2>/dev/null && command -v apt-get >/dev/null 2>&1 \
      && [ "$(id -u)" = 0 ]; then
    log "installing the MariaDB client headers (for mysqlclient)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libmariadb-dev pkg-config >/dev/null 2>&1 || log "could not install libmariadb-dev"
  fi
  .venv/bin/python -m pip install -q -e '.[dev,fast]' >/dev/null 2>&1 \
    || log "mysqlclient not installed: the hot path uses pymysql"
fi
log "ready: $(.venv/bin/redeemflow --help >/dev/null && echo 'redeemflow CLI installed')"

# The TypeScript SDK's build and test tools (tests/e2e/test_sdk.py runs them).
if [ -f sdk/typescript/package.json ]; then (cd sdk/typescript && npm ci --no-audit --no-fund); fi
# ajv for the JSON Schema parity test (tests/unit/test_schema_parity.py): test-only.
if [ -f tests/js/package.json ]; then (cd tests/js && npm ci --no-audit --no-fund); fi
