import pytest


@pytest.fixture
def private_cache(settings, request):
    """A cache of the test's own: allauth counts its rate limits there, per IP and account."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        },
    }
