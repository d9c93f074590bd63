# CryptoMonitor's production image: granian (HTTP), daphne (WebSockets), the
# Celery worker and beat all run from it (see docker-compose.yml, where nginx
# routes /ws/ to daphne and the rest to granian). Its default command is
# daphne alone, which serves both in one process (as `make run` does).
# Build: docker build -t cryptomonitor .

# Front-end packages (Pico CSS, lightweight-charts) come from npm at build time,
# pinned by package-lock.json; the app serves them itself, never from a CDN.
FROM node:22-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=cryptomonitor.settings \
    DEBUG=False
WORKDIR /app
RUN useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin app

# Dependencies first so a code change does not reinstall them: the project's
# runtime dependencies at the versions pinned in requirements.lock.
COPY pyproject.toml requirements.lock README.md ./
RUN pip install --constraint requirements.lock .

COPY . .
COPY --from=assets /app/node_modules ./node_modules
# DEBUG=False needs a SECRET_KEY to import settings; this one only exists for
# collectstatic at build time and is never used to sign anything.
RUN SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput -v 0 \
    && chmod +x docker/entrypoint.sh \
    && mkdir -p var && chown app:app var

USER app
EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "cryptomonitor.asgi:application"]
