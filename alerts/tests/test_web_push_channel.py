"""An alert may notify by Web Push once one of its owner's browsers has push enabled."""

import pytest

from alerts.models import Alert
from notifications.models import PushSubscription

pytestmark = pytest.mark.django_db


def enable_push(user) -> PushSubscription:
    return PushSubscription.objects.create(
        user=user, endpoint=f"https://push.example.net/{user.pk}", p256dh="B", auth="a"
    )


def post(client, **data):
    body = {"coin": "bitcoin", "condition": "above", "target": "70000", **data}
    return client.post("/api/v1/alerts/", body, format="json")


def test_the_api_refuses_web_push_until_a_browser_has_push_enabled(owner_api, bitcoin):
    response = post(owner_api, channels=["in_app", "web_push"])

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["channels"] == [
        "Web Push needs a browser with push enabled: turn it on in Notification settings first."
    ]
    assert not Alert.objects.exists()


def test_the_api_accepts_web_push_once_a_browser_has_it(owner_api, owner, bitcoin):
    enable_push(owner)

    response = post(owner_api, channels=["web_push"])

    assert response.status_code == 201, response.content
    assert Alert.objects.get().channels == ["web_push"]


def test_another_users_browser_does_not_count(owner_api, stranger, bitcoin):
    enable_push(stranger)

    assert post(owner_api, channels=["web_push"]).status_code == 400


def test_the_form_offers_web_push_only_once_a_browser_has_it(client, owner, bitcoin):
    client.force_login(owner)
    assert 'value="web_push"' not in client.get("/alerts/new/").content.decode()

    enable_push(owner)

    assert 'value="web_push"' in client.get("/alerts/new/").content.decode()
