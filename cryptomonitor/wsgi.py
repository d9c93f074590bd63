"""WSGI entry point: production HTTP (pages, admin, API) under granian.

WebSockets (/ws/) stay on daphne (cryptomonitor/asgi.py); the reverse proxy in
front (docker/nginx.conf) sends /ws/ there and everything else here. A granian
worker's blocking thread runs a request from start to end, so no thread hop
per view and persistent database connections (DB_CONN_MAX_AGE) stay bounded
by workers x blocking threads (docker-compose.yml's web).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptomonitor.settings")

application = get_wsgi_application()
