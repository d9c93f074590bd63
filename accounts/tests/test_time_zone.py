import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from accounts.middleware import UserPreferencesMiddleware
from accounts.models import Profile

pytestmark = pytest.mark.django_db


def zone_seen_by_view(user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    seen: list[str] = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    UserPreferencesMiddleware(view)(request)
    timezone.deactivate()
    return seen[0]


def test_it_shows_times_in_the_users_zone(owner):
    Profile.objects.create(user=owner, time_zone="Asia/Tokyo")

    assert zone_seen_by_view(owner) == "Asia/Tokyo"


def test_it_uses_the_site_zone_for_anonymous_visitors():
    from django.contrib.auth.models import AnonymousUser

    assert zone_seen_by_view(AnonymousUser()) == "UTC"


def test_it_uses_the_site_zone_for_a_user_without_a_profile(stranger):
    assert zone_seen_by_view(stranger) == "UTC"


def test_it_ignores_a_zone_that_no_longer_exists(owner):
    Profile.objects.create(user=owner, time_zone="Mars/Olympus")

    assert zone_seen_by_view(owner) == "UTC"


def test_it_does_not_leak_a_zone_into_the_next_request(owner, stranger):
    Profile.objects.create(user=owner, time_zone="Asia/Tokyo")
    request = RequestFactory().get("/")
    request.user = owner
    UserPreferencesMiddleware(lambda request: HttpResponse())(request)

    assert zone_seen_by_view(stranger) == "UTC"
