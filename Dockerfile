# redeemflow application image: the `redeemflow` CLI (worker, gateway, migrations, ops).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# the sources (tests, benches, docs and the SDK are left out by .dockerignore)
COPY . .
RUN pip install . && useradd --system --uid 10001 redeemflow
USER redeemflow

# gateway HTTP port, worker metrics port
EXPOSE 8080 9108
ENTRYPOINT ["redeemflow"]
CMD ["--help"]
