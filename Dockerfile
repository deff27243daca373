# redeemflow application image: the `redeemflow` CLI (worker, gateway, migrations, ops).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# the sources (tests, benches, docs and the SDK are left out by .dockerignore)
COPY . .
# mysqlclient (the hot path's C driver) builds against the MariaDB client library
RUN apt-get update && apt-get install -y --no-install-recommends gcc libmariadb-dev pkg-config \
    && pip install '.[fast]' \
    && apt-get purge -y --auto-remove gcc pkg-config && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 redeemflow
USER redeemflow

# gateway HTTP port, worker metrics port, back office
EXPOSE 8080 9108 8090
ENTRYPOINT ["redeemflow"]
CMD ["--help"]
