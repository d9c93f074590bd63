"""The TLS settings of every outbound HTTPS request (CoinGecko, logos, webhooks, pushes).

httpx's own default (certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR
when set), loaded once per process: loading the bundle costs about 20 ms of
CPU each time, most of a push's cost and a share of every poll's.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def tls_context() -> ssl.SSLContext:
    """The shared context (SSLContext is safe to share between threads), made
    again when SSL_CERT_FILE or SSL_CERT_DIR change."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=True)
