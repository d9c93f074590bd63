"""Private addresses: refused for Apprise as for webhooks, at saving and at sending."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from notifications.delivery import deliver
from notifications.models import DeliveryStatus, NotificationSettings
from notifications.transports.base import pinned_request

pytestmark = pytest.mark.django_db

TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/42"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("json://127.0.0.1:8000/hook", "127.0.0.1 is a private network address"),
        ("json://[::1]/hook", "::1 is a private network address"),
        ("ntfy://10.0.0.1/alerts", "10.0.0.1 is a private network address"),
        ("gotify://localhost/token", "localhost is a private network address"),
        ("mailto://user:pass@169.254.169.254", "169.254.169.254 is a private network address"),
        # The server is not the host part: mailto://?smtp=, zulip://bot@org.host/.
        ("mailto://user:pw@gmail.com?smtp=127.0.0.1", "127.0.0.1 is a private network address"),
        (
            "mailto://example.com?smtp=169.254.169.254&user=a&pass=b&from=a@example.com",
            "169.254.169.254 is a private network address",
        ),
        (f"zulip://bot-bot@org.localhost/{'a' * 32}", "localhost is a private network address"),
    ],
)
def test_the_page_refuses_an_apprise_url_on_a_private_address(client, owner, url, message):
    client.force_login(owner)

    response = client.post("/notifications/settings/", {"apprise_urls": url, "webhook_url": ""})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert NotificationSettings.for_user(owner).apprise_urls == ""


def test_the_model_refuses_it_too_so_the_api_does(owner):
    config = NotificationSettings.for_user(owner)
    config.apprise_urls = "json://127.0.0.1:8000/hook"

    with pytest.raises(ValidationError) as error:
        config.full_clean()

    assert "127.0.0.1 is a private network address" in str(error.value.message_dict)


def test_urls_whose_host_part_is_a_token_are_accepted(owner):
    # tgram:// holds a bot token where a host would be; ntfy://topic is ntfy.sh.
    config = NotificationSettings.for_user(owner)
    config.apprise_urls = f"{TELEGRAM}\nntfy://localhost"

    config.full_clean()


def test_the_setting_allows_private_addresses_for_local_use(client, owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_IPS = True
    client.force_login(owner)

    response = client.post(
        "/notifications/settings/", {"apprise_urls": "json://127.0.0.1:8000/hook"}
    )

    assert response.status_code == 302
    assert NotificationSettings.for_user(owner).apprise_urls == "json://127.0.0.1:8000/hook"


def test_a_send_to_a_private_apprise_server_fails_without_posting(receiver, owner, fire):
    # Saved while it was allowed (or while the name resolved elsewhere).
    NotificationSettings.objects.update_or_create(
        user=owner, defaults={"apprise_urls": receiver.url.replace("http://", "json://")}
    )
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "127.0.0.1 is a private network address" in delivery.last_error
    assert receiver.requests == []


def test_an_email_service_is_not_sent_through_a_private_smtp_server(smtp, owner, fire):
    # Saved while it was allowed; mailto://…?smtp= names the server to connect to.
    url = f"mailto://user:pw@example.com:{smtp.port}?smtp=127.0.0.1&to=b@example.com"
    NotificationSettings.objects.update_or_create(user=owner, defaults={"apprise_urls": url})
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "127.0.0.1 is a private network address" in delivery.last_error
    assert smtp.connections == 0


@pytest.fixture
def rebinding_dns(monkeypatch):
    """rebind.test: public on the first lookup, loopback afterwards (DNS rebinding)."""
    real = socket.getaddrinfo
    answers = ["93.184.215.14", "127.0.0.1"]

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_webhook_send_connects_to_the_address_it_checked(rebinding_dns):
    url, headers, extensions = pinned_request("https://rebind.test:8443/hook?x=1", {"A": "b"})

    assert url == "https://93.184.215.14:8443/hook?x=1"
    assert headers == {"A": "b", "Host": "rebind.test:8443"}
    assert extensions == {"sni_hostname": "rebind.test"}


def test_a_webhook_keeps_the_host_header_of_its_url(receiver, owner, fire, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_IPS = True
    url = receiver.url.replace("127.0.0.1", "localhost")
    NotificationSettings.objects.update_or_create(user=owner, defaults={"webhook_url": url})
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["headers"]["Host"] == url.split("/")[2]


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS server for "localhost" whose certificate the client is told to trust."""
    import datetime
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # httpx trusts it from the environment
    yield f"https://localhost:{server.server_address[1]}/hook", hosts
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_https_webhook_pinned_to_its_address_still_verifies_the_name(
    tls_receiver, owner, fire, settings
):
    # The connection goes to 127.0.0.1; the certificate is checked against "localhost".
    settings.WEBHOOK_ALLOW_PRIVATE_IPS = True
    url, hosts = tls_receiver
    NotificationSettings.objects.update_or_create(user=owner, defaults={"webhook_url": url})
    [delivery] = fire(owner, channels=["webhook"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT
    assert hosts == [url.split("/")[2]]
