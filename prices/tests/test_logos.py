"""Coin logos are downloaded once from CoinGecko's image hosts and served by us."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from prices.logos import (
    LOGOS_PER_TASK,
    REFRESH_KEY,
    RETRY_FAILED_AFTER,
    coins_needing_logos,
    refresh_logos,
    request_refresh,
)
from prices.models import Coin, CoinLogo
from prices.polling import LOCK_KEY, poll_once
from prices.tasks import fetch_coin_logos
from prices.tests.fake_coingecko import IMAGE_PREFIX, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(fake_coingecko, settings):
    """The fake serves each coin's image, and its origin is the allowed image host."""
    fake_coingecko.serve_images()
    settings.COIN_LOGO_ORIGINS = [fake_coingecko.origin]
    settings.TRACKED_COINS = ["bitcoin"]
    settings.COINGECKO_MAX_RETRIES = 0
    cache.delete(LOCK_KEY)
    cache.delete(REFRESH_KEY)
    return fake_coingecko


def tracked_coin(url: str, coingecko_id: str = "bitcoin") -> Coin:
    return Coin.objects.create(
        coingecko_id=coingecko_id, symbol="btc", name="Bitcoin", image_url=url, is_tracked=True
    )


def image_requests(fake) -> list[str]:
    return [path for path in fake.paths() if path.startswith(IMAGE_PREFIX)]


def test_a_good_image_is_stored_and_served_with_caching_headers(client, images):
    coin = tracked_coin(images.image_url("bitcoin"))

    assert refresh_logos().stored == ["bitcoin"]

    coin.refresh_from_db()
    response = client.get(coin.logo_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == png()
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    again = client.get(coin.logo_url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_pages_show_our_copy_and_never_coingeckos(client, images):
    coin = tracked_coin(images.image_url("bitcoin"))
    refresh_logos()
    coin.refresh_from_db()

    for page in ("/", "/coins/bitcoin/"):
        html = client.get(page).content.decode()
        assert f'src="{coin.logo_url}"' in html.replace("&amp;", "&"), page
        assert images.origin not in html and "coingecko.com/coins/images" not in html, page


def test_the_api_names_our_copy_of_the_logo_and_null_before_it(client, images):
    coin = tracked_coin(images.image_url("bitcoin"))
    assert client.get("/api/v1/coins/bitcoin/").json()["logo_url"] is None

    refresh_logos()
    coin.refresh_from_db()

    assert client.get("/api/v1/coins/bitcoin/").json()["logo_url"] == coin.logo_url
    assert client.get(coin.logo_url).status_code == 200


def test_a_coin_without_a_local_copy_shows_its_letter(client, images, settings):
    settings.COIN_LOGO_ORIGINS = ["https://coin-images.coingecko.com"]
    tracked_coin("https://coin-images.coingecko.com/coins/images/1/large/bitcoin.png")

    for page in ("/", "/coins/bitcoin/"):
        html = client.get(page).content.decode()
        assert "coin-icon-fallback" in html and "<img" not in html.split("<main")[1], page


def test_an_image_is_downloaded_once_per_url(images):
    coin = tracked_coin(images.image_url("bitcoin"))
    refresh_logos()
    refresh_logos()
    assert len(image_requests(images)) == 1

    Coin.objects.filter(pk=coin.pk).update(image_url=images.image_url("bitcoin") + "?v=2")
    images.set_image("bitcoin", png(2, 2))
    refresh_logos()

    assert len(image_requests(images)) == 2
    assert bytes(CoinLogo.objects.get().data) == png(2, 2)


def test_an_oversize_image_is_refused(images, settings):
    settings.COIN_LOGO_MAX_BYTES = 256 * 1024
    images.set_image("bitcoin", png(padding=300 * 1024))
    tracked_coin(images.image_url("bitcoin"))

    assert "more than 262144" in refresh_logos().failed["bitcoin"]
    assert Coin.objects.get().logo_digest == ""


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
            "image/svg+xml",
            "not PNG, JPEG, WebP or GIF",
        ),
        (b"<html>not an image</html>", "image/png", "not a image/png image"),
        (png(), "text/html", "not PNG, JPEG, WebP or GIF"),
    ],
)
def test_an_image_of_another_type_is_refused(images, body, content_type, why):
    images.set_image("bitcoin", body, content_type)
    tracked_coin(images.image_url("bitcoin"))

    assert why in refresh_logos().failed["bitcoin"]
    assert Coin.objects.get().logo_digest == ""


def test_a_non_https_url_is_refused_before_any_request(images, settings):
    settings.COIN_LOGO_ORIGINS = ["https://coin-images.coingecko.com"]
    tracked_coin("http://coin-images.coingecko.com/coins/images/1/large/bitcoin.png")

    assert refresh_logos().failed["bitcoin"] == "not https (http)"


def test_a_foreign_host_is_refused_before_any_request(images, settings):
    settings.COIN_LOGO_ORIGINS = ["https://coin-images.coingecko.com"]
    tracked_coin(images.image_url("bitcoin").replace("http:", "https:"))
    tracked_coin("https://evil.example/bitcoin.png", coingecko_id="evil")

    failed = refresh_logos().failed

    assert "127.0.0.1 is not one of CoinGecko's image hosts" in failed["bitcoin"]
    assert "evil.example is not one of CoinGecko's image hosts" in failed["evil"]
    assert image_requests(images) == []


def test_a_refused_image_is_not_tried_again_until_its_url_changes(images):
    images.set_image("bitcoin", b"nope", "text/plain")
    tracked_coin(images.image_url("bitcoin"))
    refresh_logos()

    assert not coins_needing_logos().exists()
    refresh_logos()
    assert len(image_requests(images)) == 1


def test_a_failed_download_is_tried_again_hours_later(images):
    images.set_image("bitcoin", b"nope", "text/plain")
    coin = tracked_coin(images.image_url("bitcoin"))
    refresh_logos()
    images.set_image("bitcoin", png(2, 2))  # the host is back

    CoinLogo.objects.filter(coin=coin).update(
        attempted_at=timezone.now() - RETRY_FAILED_AFTER - timedelta(minutes=1)
    )
    refresh_logos()

    coin.refresh_from_db()
    assert coin.logo_digest


def test_sync_coins_fetches_the_logos_tracked_coins_lack(images):
    images.set_image("bitcoin", b"nope", "text/plain")
    tracked_coin(images.image_url("bitcoin"))
    refresh_logos()
    del images.images["bitcoin"]
    out = StringIO()

    call_command("sync_coins", stdout=out, stderr=StringIO())

    assert "1 logos stored, 0 refused." in out.getvalue()
    assert Coin.objects.get(coingecko_id="bitcoin").logo_digest


def test_a_poll_downloads_no_image_and_asks_for_the_task_after_commit(
    images, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = poll_once()

    assert report.ok and Coin.objects.get(coingecko_id="bitcoin").image_url
    assert image_requests(images) == []
    assert request_refresh in callbacks

    fetch_coin_logos()

    assert Coin.objects.get(coingecko_id="bitcoin").logo_digest
    assert len(image_requests(images)) == 1
    assert cache.get(REFRESH_KEY) is None


def test_the_poll_asks_for_one_refresh_while_one_is_pending(images):
    tracked_coin(images.image_url("bitcoin"))

    request_refresh()

    assert cache.get(REFRESH_KEY) == 1
    assert image_requests(images) == []  # the task downloads, in a worker


def test_one_task_downloads_a_batch_and_the_next_poll_asks_for_the_rest(images, settings):
    settings.TRACKED_COINS = []
    for n in range(LOGOS_PER_TASK + 2):
        coin_id = f"coin-{n + 10:05d}"
        tracked_coin(images.image_url(coin_id), coingecko_id=coin_id)

    assert fetch_coin_logos() == {"stored": LOGOS_PER_TASK, "failed": 0}

    assert coins_needing_logos().count() == 2
    request_refresh()
    assert cache.get(REFRESH_KEY) == 1
