"""The Transport base every channel subclasses, and its single error type."""

from __future__ import annotations

from typing import ClassVar

import httpx
from django.conf import settings

from notifications.notices import Notice


class TransportError(Exception):
    """A send that did not happen. Permanent errors are never retried."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


class Transport:
    """Sends notices to one user on one channel; raises TransportError on failure."""

    channel: ClassVar[str]

    def __init__(self, user) -> None:
        self.user = user

    def send(self, notice: Notice) -> None:
        raise NotImplementedError


class HttpTransport(Transport):
    """POSTs with one timeout policy and one mapping of HTTP failures for everyone."""

    def timeout(self) -> float:
        return settings.WEBHOOK_TIMEOUT_SECONDS

    def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        timeout = self.timeout()
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                response = client.post(url, content=content, headers=headers)
        except httpx.TimeoutException:
            raise TransportError(f"{url} did not answer within {timeout:g} s") from None
        except httpx.InvalidURL as exc:
            raise TransportError(f"invalid URL {url}: {exc}", permanent=True) from None
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach {url}: {exc}") from None
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise TransportError(f"{url} answered HTTP {status}; will retry")
        if status >= 400:
            raise TransportError(f"{url} refused the notification: HTTP {status}", permanent=True)
        return response
