"""Private addresses: refused for Apprise as for webhooks, at saving and at sending."""

from __future__ import annotations

import base64
import socket
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError

from notifications.delivery import deliver
from notifications.models import DeliveryStatus, NotificationSettings
from notifications.transports.base import HttpTransport, TransportError, pinned_request

pytestmark = pytest.mark.django_db

IDN, IDN_ASCII = "bücher.test", "xn--bcher-kva.test"
TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/42"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("json://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("json://[::1]/hook", "::1 is a loopback address"),
        ("ntfy://10.0.0.1/alerts", "10.0.0.1 is a private network address"),
        ("mailto://user:pass@169.254.169.254", "169.254.169.254 is a link-local address"),
        # The server is not the host part: mailto://?smtp=.
        ("mailto://user:pw@gmail.com?smtp=127.0.0.1", "127.0.0.1 is a loopback address"),
        (
            "mailto://example.com?smtp=169.254.169.254&user=a&pass=b&from=a@example.com",
            "169.254.169.254 is a link-local address",
        ),
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

    assert "127.0.0.1 is a loopback address" in str(error.value.message_dict)


def test_urls_whose_host_part_is_a_token_are_accepted(owner):
    # tgram:// holds a bot token where a host would be; ntfy://topic is ntfy.sh.
    config = NotificationSettings.for_user(owner)
    config.apprise_urls = f"{TELEGRAM}\nntfy://localhost"

    config.full_clean()


def test_the_setting_allows_private_addresses_for_local_use(client, owner, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
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
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert "OUTBOUND_ALLOW_PRIVATE_IPS=True" in delivery.last_error
    assert receiver.requests == []


def test_an_email_service_is_not_sent_through_a_private_smtp_server(smtp, owner, fire):
    # Saved while it was allowed; mailto://…?smtp= names the server to connect to.
    url = f"mailto://user:pw@example.com:{smtp.port}?smtp=127.0.0.1&to=b@example.com"
    NotificationSettings.objects.update_or_create(user=owner, defaults={"apprise_urls": url})
    [delivery] = fire(owner, channels=["apprise"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert "OUTBOUND_ALLOW_PRIVATE_IPS=True" in delivery.last_error
    assert smtp.connections == 0


def send_webhook(owner, fire, url: str) -> DeliveryStatus:
    """Deliver an alert of `owner` to `url` as their webhook; the delivery's status."""
    NotificationSettings.objects.update_or_create(user=owner, defaults={"webhook_url": url})
    [delivery] = fire(owner, channels=["webhook"])
    return deliver(delivery.pk)


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_webhook_send_connects_to_the_address_it_checked(dns):
    # rebind.test: public on the first lookup, loopback afterwards (DNS rebinding).
    dns["rebind.test"] = [["93.184.215.14"], ["127.0.0.1"]]

    urls, headers, extensions = pinned_request("https://rebind.test:8443/hook?x=1", {"A": "b"})

    assert urls == ["https://93.184.215.14:8443/hook?x=1"]
    assert headers == {"A": "b", "Host": "rebind.test:8443"}
    assert extensions == {"sni_hostname": "rebind.test"}


def test_a_webhook_keeps_the_host_header_of_its_url(receiver, owner, fire, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    url = receiver.url.replace("127.0.0.1", "localhost")

    assert send_webhook(owner, fire, url) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["headers"]["Host"] == url.split("/")[2]


def test_a_webhook_sends_the_credentials_of_its_url(receiver, owner, fire, settings):
    # httpx sent a URL's user-info as Basic auth; the pinned URL has none, so we do.
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    url = receiver.url.replace("http://", "http://hook-user:s%3Acret@")

    assert send_webhook(owner, fire, url) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["headers"]["Authorization"] == basic_auth("hook-user", "s:cret")
    assert request["headers"]["Host"] == receiver.url.split("/")[2]


def test_a_failed_webhook_send_does_not_print_the_urls_password(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(TransportError) as failure:
        HttpTransport(user=None).post(f"http://hook-user:s3cret@127.0.0.1:{port}/h", b"{}", {})

    assert "s3cret" not in str(failure.value)
    assert f"***@127.0.0.1:{port}/h" in str(failure.value)


def test_an_authorization_header_of_the_caller_wins_over_the_url(receiver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    url = receiver.url.replace("http://", "http://hook-user:secret@")

    HttpTransport(user=None).post(url, b"{}", {"Authorization": "Bearer t0ken"})

    [request] = receiver.requests
    assert request["headers"]["Authorization"] == "Bearer t0ken"


def test_a_webhook_tries_the_next_address_when_one_refuses_to_connect(
    receiver, dns, owner, fire, settings
):
    # 127.0.0.2 is loopback but nothing listens there on the receiver's port.
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    dns["two.test"] = [["127.0.0.2", "127.0.0.1"]]
    url = receiver.url.replace("127.0.0.1", "two.test")

    assert send_webhook(owner, fire, url) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request["headers"]["Host"] == url.split("/")[2]


def test_it_does_not_try_the_next_address_after_an_http_error(receiver, dns, owner, fire, settings):
    # Once connected the server may have acted on the request: no second POST.
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    port = urlsplit(receiver.url).port
    receiver.script = [500]
    dns["two.test"] = [["127.0.0.1", "127.0.0.2"]]
    NotificationSettings.objects.update_or_create(
        user=owner, defaults={"webhook_url": f"http://two.test:{port}/hook"}
    )
    [delivery] = fire(owner, channels=["webhook"])

    with socket.create_server(("127.0.0.2", port)) as second:
        second.setblocking(False)

        assert deliver(delivery.pk) == DeliveryStatus.PENDING

        assert len(receiver.requests) == 1
        with pytest.raises(BlockingIOError):
            second.accept()


def test_a_name_with_one_private_address_among_others_is_refused(dns, settings):
    dns["mixed.test"] = [["93.184.215.14", "10.0.0.7"]]

    with pytest.raises(TransportError) as error:
        pinned_request("https://mixed.test/hook", {})

    assert error.value.permanent
    assert "10.0.0.7" in error.value.message


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS server for "localhost" and IDN_ASCII, whose certificate the client trusts."""
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
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName(IDN_ASCII)]),
            critical=False,
        )
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
    requests: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            requests.append(dict(self.headers))
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
    yield f"https://localhost:{server.server_address[1]}/hook", requests
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_https_webhook_pinned_to_its_address_still_verifies_the_name(
    tls_receiver, owner, fire, settings
):
    # The connection goes to 127.0.0.1; the certificate is checked against "localhost".
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    url, requests = tls_receiver

    assert send_webhook(owner, fire, url) == DeliveryStatus.SENT
    assert [request["Host"] for request in requests] == [url.split("/")[2]]


def test_an_https_webhook_sends_the_credentials_of_its_url(tls_receiver, owner, fire, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    url, requests = tls_receiver
    url = url.replace("https://", "https://hook-user:s%40cret@")

    assert send_webhook(owner, fire, url) == DeliveryStatus.SENT
    [request] = requests
    assert request["Authorization"] == basic_auth("hook-user", "s@cret")
    assert "@" not in request["Host"]


def test_an_idn_webhook_goes_to_its_idna_name(tls_receiver, dns, owner, fire, settings):
    # The Host header, the lookup, SNI and the certificate check all use xn--bcher-kva.test.
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True
    url, requests = tls_receiver
    dns[IDN_ASCII] = [["127.0.0.1"]]
    url = url.replace("localhost", IDN)

    assert send_webhook(owner, fire, url) == DeliveryStatus.SENT
    [request] = requests
    assert request["Host"] == f"{IDN_ASCII}:{urlsplit(url).port}"
