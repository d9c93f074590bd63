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
# DEBUG=False refuses to import the settings without a real SECRET_KEY: a
# random one, made for this one command, signs nothing and is not kept in the
# image (neither an ENV nor a build argument, so not in its history either).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        python manage.py collectstatic --noinput -v 0 \
    && chmod +x docker/entrypoint.sh \
    && mkdir -p var && chown app:app var

USER app
EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "cryptomonitor.asgi:application"]
