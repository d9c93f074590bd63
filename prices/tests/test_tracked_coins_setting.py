"""A coin dropped from TRACKED_COINS stops being tracked on the next sync, unless needed."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command

from alerts.models import Alert, Status
from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.polling import LOCK_KEY, poll_once
from prices.tests.pipeline import quote
from prices.watchlists import watch

pytestmark = pytest.mark.django_db


def sync_coins() -> str:
    out = StringIO()
    call_command("sync_coins", stdout=out, stderr=StringIO())
    return out.getvalue()


def tracked() -> set[str]:
    return set(Coin.objects.filter(is_tracked=True).values_list("coingecko_id", flat=True))


@pytest.fixture
def was_tracked(fake_coingecko, settings):
    """bitcoin, cosmos and solana were TRACKED_COINS at the last sync; now only bitcoin is."""
    settings.TRACKED_COINS = ["bitcoin", "cosmos", "solana"]
    sync_coins()
    settings.TRACKED_COINS = ["bitcoin"]


def test_a_coin_dropped_from_the_setting_stops_being_tracked(was_tracked):
    out = sync_coins()

    assert tracked() == {"bitcoin"}
    assert "2 no longer tracked" in out


def test_a_coin_a_poll_created_before_any_sync_is_dropped_like_a_synced_one(
    fake_coingecko, settings
):
    # A fresh install polls before anyone runs sync_coins: the poll creates
    # the setting's coins.
    cache.delete(LOCK_KEY)
    settings.TRACKED_COINS = ["bitcoin", "cosmos"]
    assert poll_once().ok
    settings.TRACKED_COINS = ["bitcoin"]

    out = sync_coins()

    assert tracked() == {"bitcoin"}
    assert "1 no longer tracked" in out


def marks(coingecko_id: str) -> tuple[bool, bool]:
    coin = Coin.objects.get(coingecko_id=coingecko_id)
    return coin.is_tracked, coin.tracked_by_setting


def test_a_poll_marks_a_coin_the_setting_names_that_existed_untracked(settings):
    # Loaded from the catalogue (or backfilled) before the setting named it:
    # the poll reports it, so it is tracked, and the setting's to drop.
    Coin.objects.create(coingecko_id="dogecoin", symbol="doge", name="Dogecoin")
    settings.TRACKED_COINS = ["bitcoin", "dogecoin"]

    store_quotes([quote("dogecoin", "0.1")], PriceSource.COINGECKO)

    assert marks("dogecoin") == (True, True)


def test_a_backfill_never_marks_a_coin_the_setting_names(settings):
    Coin.objects.create(coingecko_id="dogecoin", symbol="doge", name="Dogecoin")
    settings.TRACKED_COINS = ["bitcoin", "dogecoin"]

    store_quotes([quote("dogecoin", "0.1")], PriceSource.BACKFILL)

    assert marks("dogecoin") == (False, False)


def test_a_poll_leaves_a_coin_tracked_in_the_admin_alone_unless_the_setting_names_it(settings):
    Coin.objects.create(coingecko_id="dogecoin", symbol="doge", name="Dogecoin", is_tracked=True)
    settings.TRACKED_COINS = ["bitcoin"]

    store_quotes([quote("dogecoin", "0.1")], PriceSource.COINGECKO)

    assert marks("dogecoin") == (True, False)


def test_a_dropped_coin_a_user_watches_stays_tracked(was_tracked, owner):
    watch(owner, Coin.objects.get(coingecko_id="cosmos"))

    sync_coins()

    assert tracked() == {"bitcoin", "cosmos"}


# Expired too: editing it with a future expiry revives it, and the alert form
# offers only tracked coins, so an untracked coin would refuse that edit.
@pytest.mark.parametrize("status", [Status.ACTIVE, Status.PAUSED, Status.TRIGGERED, Status.EXPIRED])
def test_a_dropped_coin_with_an_alert_that_can_fire_again_stays_tracked(was_tracked, owner, status):
    Alert.objects.create(
        user=owner,
        coin=Coin.objects.get(coingecko_id="solana"),
        condition="above",
        target=Decimal("100"),
        status=status,
    )

    sync_coins()

    assert tracked() == {"bitcoin", "solana"}


def test_a_coin_tracked_in_the_admin_is_not_the_settings_to_drop(was_tracked):
    Coin.objects.filter(coingecko_id="coin-00100").update(is_tracked=True)

    sync_coins()

    assert tracked() == {"bitcoin", "coin-00100"}


def test_a_coin_back_in_the_setting_is_tracked_again(was_tracked, settings):
    sync_coins()
    settings.TRACKED_COINS = ["bitcoin", "cosmos"]

    sync_coins()

    assert tracked() == {"bitcoin", "cosmos"}


def test_a_coin_a_watcher_kept_is_dropped_once_unwatched(was_tracked, owner):
    from prices.watchlists import unwatch

    cosmos = Coin.objects.get(coingecko_id="cosmos")
    watch(owner, cosmos)
    sync_coins()
    unwatch(owner, cosmos)

    sync_coins()

    assert tracked() == {"bitcoin"}
