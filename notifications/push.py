"""Web Push: the VAPID key pair, the JWT claims, and what a push says.

The application server's key pair comes from the environment
(VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY: several nodes, or keys kept across
a database rebuild) or, when both are unset, is generated once and stored
in the database (`VapidKey`), so every web and worker process signs with
the key browsers subscribed with. Browsers bind a subscription to that
public key: changing it silently orphans every subscription (the push
services answer 403 until each browser subscribes again).
"""

from __future__ import annotations

import base64
import json
import time
from email.utils import parseaddr
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError
from django.templatetags.static import static
from py_vapid import Vapid

from notifications.models import PushSubscription, VapidKey
from notifications.notices import Notice

# A price alert is worth little after ten minutes: the push service drops it
# rather than wake a phone that was offline for an hour.
TTL_SECONDS = 600
URGENCY = "high"
# A summary is still worth reading hours later, and nothing in it is urgent:
# a phone in power saving gets it when it next wakes.
SUMMARY_TTL_SECONDS = 6 * 3600
SUMMARY_URGENCY = "normal"
# How long a signed VAPID token is valid (RFC 8292 allows at most 24 hours).
TOKEN_SECONDS = 12 * 3600
MAX_SUBSCRIPTIONS_PER_USER = 20

# This process's key: (the settings it came from, private, public, signer).
_keys: tuple[str, str, str, Vapid] | None = None


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_key_pair() -> tuple[str, str]:
    """A fresh P-256 key pair: (private scalar, uncompressed public point), base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), public_key_of(key)


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(raw)


def environment_key_pair() -> tuple[str, str] | None:
    """The pair VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY set, checked; None if unset."""
    private, public = settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY
    if not private and not public:
        return None
    if not (private and public):
        raise ImproperlyConfigured("Set both VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY, or neither.")
    try:
        derived = public_key_of(_vapid(private).private_key)
    except Exception as exc:
        raise ImproperlyConfigured(f"VAPID_PRIVATE_KEY is not a P-256 private key: {exc}") from None
    if derived != public.rstrip("="):
        raise ImproperlyConfigured("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY.")
    return private, derived


def _from_database() -> tuple[str, str]:
    row = VapidKey.objects.filter(pk=1).first()
    if row is None:
        private, public = new_key_pair()
        try:
            row, _ = VapidKey.objects.get_or_create(
                pk=1, defaults={"private_key": private, "public_key": public}
            )
        except IntegrityError:  # another process created it first
            row = VapidKey.objects.get(pk=1)
    return row.private_key, row.public_key


def key_pair() -> tuple[str, str]:
    """(private, public) of the VAPID key: the environment's, else the database's."""
    global _keys
    source = f"{settings.VAPID_PRIVATE_KEY}|{settings.VAPID_PUBLIC_KEY}"
    if _keys is None or _keys[0] != source:
        private, public = environment_key_pair() or _from_database()
        _keys = (source, private, public, _vapid(private))
    return _keys[1], _keys[2]


def forget_key_pair() -> None:
    """Read the key again next time (tests that replace the stored key)."""
    global _keys
    _keys = None


def public_key() -> str:
    """The applicationServerKey browsers subscribe with (base64url)."""
    return key_pair()[1]


def _vapid(private: str) -> Vapid:
    if "-----BEGIN" in private:
        return Vapid.from_pem(private.encode())
    return Vapid.from_string(private)


def subject() -> str:
    """The VAPID `sub` claim: how a push service reaches the operator.

    VAPID_SUBJECT if set, else mailto: the address of DEFAULT_FROM_EMAIL,
    else SITE_URL when it is https.
    """
    if settings.VAPID_SUBJECT:
        return settings.VAPID_SUBJECT
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    if "@" in address:
        return f"mailto:{address}"
    return settings.SITE_URL


def authorization(endpoint: str) -> str:
    """The Authorization header (RFC 8292 `vapid t=…,k=…`) for a push to `endpoint`."""
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + TOKEN_SECONDS,
        "sub": subject(),
    }
    key_pair()
    assert _keys is not None
    return _keys[3].sign(claims)["Authorization"]


def message(notice: Notice) -> bytes:
    """What the service worker shows (static/js/sw.js): title, body, the page to open."""
    return json.dumps(
        {
            "title": notice.title,
            "body": notice.brief,
            "url": notice.path,
            "tag": f"cryptomonitor-delivery-{notice.delivery_id}",
            "icon": _icon(),
            "alert_id": notice.alert_id,
            "event_id": notice.event_id,
        },
        separators=(",", ":"),
    ).encode()


def delivery_headers(notice: Notice) -> dict[str, str]:
    """How long the push service keeps the message for an offline browser, and how urgent."""
    if notice.is_summary:
        return {"TTL": str(SUMMARY_TTL_SECONDS), "Urgency": SUMMARY_URGENCY}
    return {"TTL": str(TTL_SECONDS), "Urgency": URGENCY}


def _icon() -> str:
    """The app icon's URL; none rather than no push when static files were not collected."""
    try:
        return static("img/icon-192.png")
    except ValueError:  # no manifest entry (collectstatic not run since the icon came)
        return ""


def browser_label(user_agent: str) -> str:
    """ "Firefox on Linux", "Chrome on Android"… from a User-Agent; "" if unknown."""
    agent = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser/", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("HeadlessChrome/", "Chromium (headless)"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in agent
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iOS"),
                ("iPad", "iPadOS"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in agent
        ),
        "",
    )
    label = f"{browser or 'A browser'} on {system}" if system else browser
    return label[:100]


def subscribe(user, endpoint: str, p256dh: str, auth: str, user_agent: str) -> PushSubscription:
    """Save a browser's subscription for `user` (validated by the caller)."""
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user": user,
            "p256dh": p256dh,
            "auth": auth,
            "browser": browser_label(user_agent),
        },
    )
    return subscription
