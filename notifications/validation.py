"""Where a user's notifications may go, checked when it is saved: syntax only.

No name lookup and no connection here: saving settings must stay fast
whatever the URLs name (a lookup per URL held web threads for minutes), and
what a name resolves to now says nothing of the moment of sending. The
worker checks every connection of a send when it is made, every hop
(notifications.egress). An address written in the URL needs no lookup, so
one the egress policy refuses is refused at once.

NotificationSettings.clean applies these, so the settings page, the API and
the admin agree.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit

import apprise

from notifications.egress import allows_private, literal_address_refusal

MAX_URL_LENGTH = 500
# Push services' endpoints are long capability URLs (FCM's run to ~200 characters).
MAX_ENDPOINT_LENGTH = 1000
# A P-256 public key, uncompressed (0x04, x, y), and the auth secret (RFC 8291).
P256DH_BYTES = 65
AUTH_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,200}={0,2}")
MAX_APPRISE_URLS = 10
PORT_RULE = "the port must be a number from 1 to 65535"
# Apprise schemes that reach no network service: syslog writes the user's text
# to this host's log, the rest are desktop notifications (disabled on Linux
# today, but a package could enable them) and a USB light. Reviewed plugin by
# plugin for the Apprise in requirements.lock: no plugin attribute tells
# (every one is category "native"; `enabled` only says whether its
# dependencies are installed), and an allowlist of the network ones would be
# the whole registry of some 180 plugins. A test pins the reviewed version,
# so an upgrade is reviewed again.
LOCAL_APPRISE_SCHEMES = frozenset(
    {"syslog", "dbus", "qt", "kde", "glib", "gio", "gnome", "macosx", "windows", "blink1"}
)
LOCAL_RULE = "it does not reach a network service; notifications go over the network only"
# rsyslog:// sends a UDP datagram to the host as written: by name, the egress
# policy cannot check the address Python connects to and refuses every send.
RSYSLOG_RULE = "rsyslog:// must name its server by address; a name cannot be checked"


def webhook_url_errors(url: str) -> list[str]:
    """What is wrong with `url` as a webhook URL (its field checks the URL syntax)."""
    if not url.lower().startswith(("http://", "https://")):
        return ["Use an http:// or https:// URL."]
    try:
        port = urlsplit(url).port  # ValueError when out of 0-65535 or not a number
    except ValueError:
        port = 0
    if port == 0:
        return [f"{PORT_RULE.capitalize()}."]
    if refused := literal_address_refusal(url):
        return [f"We cannot post there: {refused}."]
    return []


def apprise_url_errors(urls: list[str]) -> list[str]:
    """What is wrong with a list of Apprise URLs, at most one Apprise parse per URL."""
    if len(urls) > MAX_APPRISE_URLS:
        return [f"Use at most {MAX_APPRISE_URLS} Apprise URLs; this has {len(urls)}."]
    too_long = [url for url in urls if len(url) > MAX_URL_LENGTH]
    if too_long:
        return [
            f"An Apprise URL may be at most {MAX_URL_LENGTH} characters; "
            f"{len(too_long)} {'is' if len(too_long) == 1 else 'are'} longer."
        ]
    unknown, refused = [], []
    for url in urls:
        if url.partition("://")[0].strip().lower() in LOCAL_APPRISE_SCHEMES:
            refused.append(f"{url} ({LOCAL_RULE})")
            continue
        service = apprise.Apprise.instantiate(url)
        if service is None:
            unknown.append(url)
        elif reason := _refused_service(url, service):
            refused.append(f"{url} ({reason})")
    errors = []
    if unknown:
        errors.append(f"Apprise does not understand: {', '.join(unknown)}")
    if refused:
        errors.append(f"We cannot send there: {'; '.join(refused)}.")
    return errors


def _refused_service(url: str, service) -> str | None:
    """Why we refuse a service Apprise understood: its port, a plugin of our own
    machine's, an rsyslog server by name, or an address it names.

    The addresses: the URL's host and every query value (mailto://…?smtp=,
    pover://…?url=) that is an IP address or a URL on one. A host that is a
    token (tgram://) is never an IP address.
    """
    port = getattr(service, "port", None)
    if isinstance(port, int) and not 0 < port < 65536:
        return PORT_RULE
    if getattr(service, "category", "native") != "native":
        return "not one of Apprise's own services"  # a plugin from a local directory
    try:
        parts = urlsplit(url)
        values = [parts.hostname or "", *(value for _, value in parse_qsl(parts.query))]
    except ValueError:  # Apprise parses more leniently than urllib
        return None
    if parts.scheme.lower() == "rsyslog" and not _is_ip_address(parts.hostname or ""):
        return RSYSLOG_RULE
    for value in values:
        if "://" in value:
            target = value
        elif _is_ip_address(value):
            target = f"//[{value}]" if ":" in value else f"//{value}"
        else:
            continue
        if reason := literal_address_refusal(target):
            return reason
    return None


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def push_subscription_errors(endpoint: str, p256dh: str, auth: str) -> list[str]:
    """What is wrong with a browser's push subscription (syntax only, as for webhooks).

    The endpoint is a URL the browser gave us, so it is held to the egress
    policy: https, or http only when OUTBOUND_ALLOW_PRIVATE_IPS is set (a
    local push service in tests), and no refused IP literal. Its name is
    checked when a push connects.
    """
    errors = []
    allowed = ("https://", "http://") if allows_private() else ("https://",)
    if not endpoint.lower().startswith(allowed) or len(endpoint) > MAX_ENDPOINT_LENGTH:
        errors.append(
            f"The endpoint must be an https:// URL of at most {MAX_ENDPOINT_LENGTH} characters."
        )
    elif refused := literal_address_refusal(endpoint):
        errors.append(f"We cannot push there: {refused}.")
    else:
        try:
            port = urlsplit(endpoint).port
        except ValueError:
            port = 0
        if port == 0 or not urlsplit(endpoint).hostname:
            errors.append(f"The endpoint needs a host; {PORT_RULE}.")
    if _decoded_length(p256dh) != P256DH_BYTES or not p256dh.startswith("B"):
        errors.append(
            f"keys.p256dh must be an uncompressed P-256 key ({P256DH_BYTES} bytes, base64url)."
        )
    if _decoded_length(auth) != AUTH_BYTES:
        errors.append(f"keys.auth must be {AUTH_BYTES} bytes, base64url.")
    return errors


def _decoded_length(value: str) -> int:
    """How many bytes base64url `value` holds (padding optional), or -1."""
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        return -1
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return -1
