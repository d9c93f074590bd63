"""Saving where notifications go: syntax only, capped, the same through the page and the API.

300 Apprise URLs in one PATCH held every web thread (two
Apprise parses and a name lookup each, inside the transaction that locked
the profile). A webhook port outside 1-65535 was saved, then failed
as "temporary" six times.
"""

from __future__ import annotations

import socket

import apprise
import pytest
from apprise.manager_plugins import NotificationManager
from django.db import connection

from notifications import validation
from notifications.models import NotificationSettings

pytestmark = pytest.mark.django_db

PAGE = "/notifications/settings/"
ME = "/api/v1/me/"
# Names under .example never resolve: a lookup of one is refused below, and
# counted, so no query leaves the machine.
GOOD_URLS = [
    "json://hooks.alice.example/cm",
    "ntfy://ntfy.alice.example/alerts",
    # Host parts that are tokens (a bot id, a topic), not servers.
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/42",
    "ntfy://topic",
]


@pytest.fixture(autouse=True)
def lookups(monkeypatch) -> list[str]:
    """Every lookup of the tests' .example names (each fails: none leaves the machine)."""
    real = socket.getaddrinfo
    seen: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        if str(host).endswith(".example"):
            seen.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "no lookups in this test")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


@pytest.fixture
def parses(monkeypatch) -> list[tuple[str, bool]]:
    """Each Apprise parse: (URL, whether a database transaction was open)."""
    real = apprise.Apprise.instantiate
    seen: list[tuple[str, bool]] = []

    def instantiate(url, *args, **kwargs):
        seen.append((url, connection.in_atomic_block))
        return real(url, *args, **kwargs)

    monkeypatch.setattr(apprise.Apprise, "instantiate", staticmethod(instantiate))
    return seen


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def many_urls(count: int) -> list[str]:
    return [f"json://hooks{n}.alice.example/cm" for n in range(count)]


def saved(owner) -> NotificationSettings:
    return NotificationSettings.for_user(owner)


# --- Item 3: the list is capped and checked without lookups --------------------------


def test_the_api_refuses_300_apprise_urls_before_parsing_any(owner_api, owner, parses, lookups):
    response = owner_api.patch(ME, {"apprise_urls": many_urls(300)}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "apprise_urls": ["Ensure this field has no more than 10 elements."]
    }
    assert (parses, lookups) == ([], [])
    assert saved(owner).apprise_urls == ""


def test_the_api_counts_urls_hidden_in_one_item_by_line(owner_api, owner, parses):
    response = owner_api.patch(ME, {"apprise_urls": ["\n".join(many_urls(11))]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "apprise_urls": ["Use at most 10 Apprise URLs; this has 11."]
    }
    assert parses == []


def test_the_page_refuses_300_apprise_urls_before_parsing_any(logged_in, owner, parses, lookups):
    response = logged_in.post(PAGE, {"apprise_urls": "\n".join(many_urls(300))})

    assert response.status_code == 200
    assert "Use at most 10 Apprise URLs; this has 300." in response.content.decode()
    assert (parses, lookups) == ([], [])
    assert saved(owner).apprise_urls == ""


def test_the_page_takes_ten_urls_but_not_eleven(logged_in, owner, lookups):
    eleven = logged_in.post(PAGE, {"apprise_urls": "\n".join(many_urls(11))})
    ten = logged_in.post(PAGE, {"apprise_urls": "\n".join(many_urls(10))})

    assert "Use at most 10 Apprise URLs; this has 11." in eleven.content.decode()
    assert ten.status_code == 302
    assert len(saved(owner).apprise_url_list()) == 10


def test_an_apprise_url_over_500_characters_is_refused(owner_api, logged_in, owner):
    long_url = f"json://hooks.alice.example/{'a' * 480}"
    assert len(long_url) > 500

    api = owner_api.patch(ME, {"apprise_urls": [long_url]}, format="json")
    page = logged_in.post(PAGE, {"apprise_urls": long_url})

    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {
        "apprise_urls": ["0: Ensure this field has no more than 500 characters."]
    }
    assert "An Apprise URL may be at most 500 characters; 1 is longer." in page.content.decode()
    assert saved(owner).apprise_urls == ""


@pytest.mark.django_db(transaction=True)
def test_the_api_saves_valid_urls_without_lookups_or_a_transaction_while_checking(
    owner_api, owner, parses, lookups
):
    changes = {"webhook_url": "https://hooks.alice.example/cm", "apprise_urls": GOOD_URLS}

    response = owner_api.patch(ME, changes, format="json")

    assert response.status_code == 200
    assert lookups == []
    # One parse per URL, none of them inside a transaction (no row lock held).
    assert parses == [(url, False) for url in GOOD_URLS]
    config = saved(owner)
    assert (config.webhook_url, config.apprise_url_list()) == (changes["webhook_url"], GOOD_URLS)


def test_the_page_saves_valid_urls_without_lookups_one_parse_each(
    logged_in, owner, parses, lookups
):
    response = logged_in.post(
        PAGE,
        {"webhook_url": "https://hooks.alice.example/cm", "apprise_urls": "\n".join(GOOD_URLS)},
    )

    assert response.status_code == 302
    assert lookups == []
    assert [url for url, _ in parses] == GOOD_URLS
    assert saved(owner).apprise_url_list() == GOOD_URLS


@pytest.mark.parametrize(
    "url", ["gotify://localhost/token", f"zulip://bot-bot@org.localhost/{'a' * 32}"]
)
def test_a_server_given_by_name_is_saved_and_checked_only_when_sending(logged_in, owner, url):
    # Where localhost leads is the worker's question, on every connection
    # of the send (notifications.egress); saving looks nothing up.
    response = logged_in.post(PAGE, {"apprise_urls": url})

    assert response.status_code == 302
    assert saved(owner).apprise_urls == url


def test_the_api_reports_every_invalid_field_at_once(owner_api, owner):
    response = owner_api.patch(
        ME,
        {"webhook_url": "https://hooks.alice.example:0/", "apprise_urls": ["nosuchservice://x"]},
        format="json",
    )

    assert set(response.json()["error"]["fields"]) == {"webhook_url", "apprise_urls"}


# --- Item 9: ports outside 1-65535 -----------------------------------------------------

BAD_PORTS = ["0", "65536", "99999"]
PORT_MESSAGE = "The port must be a number from 1 to 65535."


@pytest.mark.parametrize("port", BAD_PORTS)
def test_the_page_refuses_a_webhook_port_out_of_range(logged_in, owner, port):
    response = logged_in.post(PAGE, {"webhook_url": f"https://hooks.alice.example:{port}/cm"})

    assert response.status_code == 200
    assert PORT_MESSAGE in response.content.decode()
    assert saved(owner).webhook_url == ""


def test_the_api_takes_webhook_ports_from_1_to_65535_only(owner_api, owner, lookups):
    for port in BAD_PORTS:
        response = owner_api.patch(
            ME, {"webhook_url": f"https://hooks.alice.example:{port}/cm"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"webhook_url": [PORT_MESSAGE]}
    assert saved(owner).webhook_url == ""

    url = "https://hooks.alice.example:65535/cm"
    assert owner_api.patch(ME, {"webhook_url": url}, format="json").status_code == 200
    assert saved(owner).webhook_url == url


def test_an_apprise_port_out_of_range_is_refused(owner_api, owner):
    url = "json://hooks.alice.example:70000/cm"

    response = owner_api.patch(ME, {"apprise_urls": [url]}, format="json")

    assert response.json()["error"]["fields"] == {
        "apprise_urls": [
            f"We cannot send there: {url} (the port must be a number from 1 to 65535)."
        ]
    }


# --- Apprise services that are not network services -----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "syslog://",  # user text into this host's syslog (make run on bare metal)
        "syslog://local5",
        "SYSLOG://user",
        "dbus://",
        "kde://",
        "qt://",
        "glib://",
        "gio://",
        "gnome://",
        "macosx://",
        "windows://",
        "blink1://",
    ],
)
def test_an_apprise_url_that_reaches_no_network_service_is_refused(owner_api, owner, url):
    response = owner_api.patch(ME, {"apprise_urls": [url]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "apprise_urls": [
            f"We cannot send there: {url} (it does not reach a network service; "
            "notifications go over the network only)."
        ]
    }
    assert saved(owner).apprise_urls == ""


def test_an_rsyslog_server_must_be_given_by_address(owner_api, owner):
    # By name, every send is refused at connect time: its address cannot be checked.
    by_name = "rsyslog://logs.alice.example"
    response = owner_api.patch(ME, {"apprise_urls": [by_name]}, format="json")

    assert response.status_code == 400
    assert "rsyslog:// must name its server by address" in str(response.json())
    by_address = "rsyslog://93.184.215.14"
    assert owner_api.patch(ME, {"apprise_urls": [by_address]}, format="json").status_code == 200
    assert saved(owner).apprise_urls == by_address


def test_the_local_schemes_were_reviewed_for_the_apprise_installed():
    # LOCAL_APPRISE_SCHEMES lists Apprise 2.2.0's plugins that reach no network
    # service. An upgrade may add one: review its new plugins, then this version.
    assert apprise.__version__ == "2.2.0"
    assert validation.LOCAL_APPRISE_SCHEMES <= set(
        NotificationManager().schemas(include_disabled=True)
    )
