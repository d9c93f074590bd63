"""Operators' logs across real processes: one poll_id from a price batch to its
notifications, and no secret in any line (docs/logging.md).

A real Celery worker polls (simulated prices), evaluates and delivers, logging
JSON into a file the test reads; daphne serves requests carrying secrets.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.confirmation import link_for
from accounts.models import ApiToken, Profile
from alerts.models import Alert
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.tests.conftest import wait_for
from prices.tasks import poll_prices
from tests_support.celery_worker import start_celery_worker
from tests_support.live_server import current_database_url, running_daphne

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class LoggedWorker:
    """A real worker on the test's queue whose log lines land in a file."""

    def __init__(self, queue: str, log: Path, **env: str) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = start_celery_worker(
                queue,
                "notifications.tests.worker_settings",
                output=output,
                CM_TEST_CELERY_QUEUE=queue,
                CM_TEST_NOTIFICATIONS_QUEUE=queue,
                CM_TEST_SMTP_PORT="1",
                CM_TEST_ROOT_URLCONF=django_settings.ROOT_URLCONF,
                LOG_FORMAT="json",
                LOG_LEVEL="INFO",
                PRICE_SOURCE="simulated",
                **env,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self) -> list[dict]:
        """Every log line as JSON (a line that is not JSON fails the test).

        Celery's start banner is not a log line: it is printed, before logging starts.
        """
        text = self.text()
        return [json.loads(line) for line in text[text.find("\n{") :].splitlines() if line.strip()]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def logged_worker(private_celery_queue, tmp_path) -> Iterator[Callable[..., LoggedWorker]]:
    started: list[LoggedWorker] = []

    def start(**env: str) -> LoggedWorker:
        worker = LoggedWorker(private_celery_queue, tmp_path / f"worker-{len(started)}.log", **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_one_poll_id_follows_a_batch_from_the_poll_to_its_delivery(
    owner, coin, logged_worker, private_celery_queue
):
    worker = logged_worker()
    Alert.objects.create(
        user=owner, coin=coin, condition="above", target=Decimal("1"), channels=["in_app"]
    )

    poll_prices.apply_async(queue=private_celery_queue)

    wait_for(
        lambda: Delivery.objects.filter(user=owner, status=DeliveryStatus.SENT).exists(),
        timeout=60,
        what="the alert's in-app delivery",
    )
    delivery = Delivery.objects.get(user=owner)
    lines = wait_for(
        lambda: [line for line in worker.lines() if line.get("delivery_id") == delivery.pk],
        what="the delivery's outcome line",
    )
    poll_id = lines[0]["poll_id"]
    batch = [line for line in worker.lines() if line.get("poll_id") == poll_id]
    events = [line["event"] for line in batch]
    assert any(event.startswith("Poll 10 requested, 10 new ticks") for event in events), events
    assert any(event.startswith("Evaluated a batch of 10 coins: 1 fired") for event in events)
    assert lines[0]["event"] == f"Delivery {delivery.pk} sent"
    assert lines[0]["outcome"] == "sent"
    assert lines[0]["channel"] == "in_app"
    assert all(line["timestamp"].endswith("Z") for line in batch)


def test_no_secret_reaches_the_logs_of_the_worker_or_the_web_server(
    owner, fire, logged_worker, receiver
):
    """Secrets in play in every process: none appears in any line they log."""
    secret_key = secrets.token_urlsafe(50)
    metrics_token = secrets.token_urlsafe(24)
    path_token = secrets.token_hex(16)
    query_token = secrets.token_hex(16)
    apprise_password = secrets.token_hex(12)
    _, api_token = ApiToken.issue(owner, "logs")
    profile = Profile.for_user(owner)
    profile.notification_email = "alerts@example.com"
    profile.save()
    confirmation_link = link_for(profile)
    confirmation_key = confirmation_link.rstrip("/").rpartition("/")[2]
    webhook_url = f"{receiver.url}/{path_token}?token={query_token}"
    apprise_url = f"json://owner:{apprise_password}@127.0.0.1:1/{path_token}"
    NotificationSettings.objects.filter(pk=NotificationSettings.for_user(owner).pk).update(
        webhook_url=webhook_url, apprise_urls=apprise_url
    )
    receiver.script = [500]  # the webhook fails once (its error names the URL), then succeeds
    env = {
        "SECRET_KEY": secret_key,
        "METRICS_TOKEN": metrics_token,
        "OUTBOUND_ALLOW_PRIVATE_IPS": "True",
        "NOTIFICATIONS_BACKOFF_BASE_SECONDS": "0.2",
    }
    worker = logged_worker(**env)

    deliveries = fire(owner, channels=("webhook", "apprise"))

    wait_for(
        lambda: (
            Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
            .exclude(status=DeliveryStatus.PENDING)
            .exclude(status=DeliveryStatus.SENDING)
            .count()
            == 2
        ),
        timeout=60,
        what="both deliveries settled",
    )
    session = Client()
    session.force_login(owner)
    with running_daphne(
        {"TEST_DATABASE_URL": current_database_url(), "LOG_FORMAT": "json", **env},
        access_log=False,
    ) as server:
        headers = {"Cookie": f"sessionid={session.cookies['sessionid'].value}"}
        with httpx.Client(base_url=server.http_url) as http:
            assert http.get(
                "/api/v1/me/", headers={"Authorization": f"Token {api_token}"}
            ).is_success
            http.get(f"/api/v1/coins/?token={api_token}")
            http.get(urlsplit(confirmation_link).path, headers=headers)
            http.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        web_log = server.log()

    worker_log = worker.text()
    assert '"outcome": "retry"' in worker_log and '"outcome": "failed"' in worker_log
    assert '"logger": "cryptomonitor.http"' in web_log
    for secret in (
        secret_key,
        metrics_token,
        path_token,
        query_token,
        apprise_password,
        api_token,
        confirmation_key,
        session.cookies["sessionid"].value,
    ):
        assert secret not in worker_log
        assert secret not in web_log


def test_the_delivery_outcome_line_shows_the_webhooks_host_only(
    owner, fire, logged_worker, receiver
):
    token = secrets.token_hex(16)
    NotificationSettings.objects.filter(pk=NotificationSettings.for_user(owner).pk).update(
        webhook_url=f"{receiver.url}/{token}"
    )
    receiver.script = [404]
    worker = logged_worker(OUTBOUND_ALLOW_PRIVATE_IPS="True")

    (delivery,) = fire(owner, channels=("webhook",))

    (line,) = wait_for(
        lambda: [line for line in worker.lines() if line.get("delivery_id") == delivery.pk],
        what="the outcome line",
    )
    assert line["outcome"] == "failed"
    host = receiver.url.split("/")[2]
    assert line["error"] == f"http://{host}/*** refused the notification: HTTP 404"
