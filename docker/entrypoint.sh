#!/usr/bin/env bash
# Start script of every CryptoMonitor container: wait until PostgreSQL and
# Redis answer, migrate when asked (only the web service sets DJANGO_MIGRATE=1,
# so two containers never migrate at once), then become the given process.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."

# Metrics (docs/metrics.md): this container's processes share one directory;
# files of a previous run's processes would count again, so start empty.
if [[ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]]; then
    # Its contents only: the directory may be a volume's mount point.
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi

python docker/wait_for_services.py

if [[ "${DJANGO_MIGRATE:-0}" == "1" ]]; then
    python manage.py migrate --noinput
    # The beat schedule (poll_prices every PRICE_POLL_SECONDS, ...) is created
    # or updated idempotently; editing it later happens in the admin.
    python manage.py ensure_schedule
fi

exec "$@"
