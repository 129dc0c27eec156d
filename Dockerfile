# syntax=docker/dockerfile:1
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/ai-gateway \
    LOG_FORMAT=json

WORKDIR /srv
# The pinned dependencies first, in a layer of their own: it is rebuilt only when the lock
# changes, not on every code change. scripts/lock.py writes the lock from what the tests ran.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY mock_openrouter ./mock_openrouter
# The project itself adds no dependency beyond the lock (`pip check` fails the build if the
# lock misses one). setup.py compiles the quotas' per-call modules with mypyc, which needs a C
# compiler for this one step: it is installed and removed in the same layer. The usage ledger's
# SQLite file lives in DATA_DIR, which the unprivileged user must own.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir --no-deps . \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* build \
    && python -I -c "import app.quotas.memory as m; assert m.__file__.endswith('.so'), m.__file__" \
    && pip check \
    && useradd --system --uid 10001 --no-create-home gateway \
    && mkdir -p /var/lib/ai-gateway \
    && chown 10001 /var/lib/ai-gateway
VOLUME ["/var/lib/ai-gateway"]

USER 10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=2)"]
CMD ["ai-gateway"]
