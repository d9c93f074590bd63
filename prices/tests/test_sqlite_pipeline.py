"""The pipeline on SQLite, the database `make run` uses without DATABASE_URL.

The suite runs on PostgreSQL; SQLite has its own SQL branches (tick insert,
rollup upsert with max()/min(), history grouping), so they are exercised here
in a subprocess with the real settings pointed at a fresh SQLite file.
"""

import json

import pytest

from cryptomonitor.testing.sqlite_project import sqlite_manage

CHECKS = """
import json
from datetime import timedelta
from decimal import Decimal
from prices.history import RANGES, price_history, purge_expired_prices
from prices.ingest import store_quotes
from prices.models import Coin, PriceRollup, PriceTick
from prices.quotes import MarketQuote
coin = Coin.objects.get(coingecko_id="bitcoin")
polled = {"ticks": PriceTick.objects.count(),
          "sources": sorted(set(PriceTick.objects.values_list("source", flat=True)))}
last = PriceTick.objects.filter(coin=coin).latest("time")
minute = PriceRollup.objects.get(coin=coin, resolution="1m", bucket=last.time.replace(
    second=0, microsecond=0))
late = MarketQuote("bitcoin", "btc", "Bitcoin", Decimal("1.5"), minute.bucket)
again = [store_quotes([late], "coingecko").stored, store_quotes([late], "coingecko").stored]
minute.refresh_from_db()
print(json.dumps({
    **polled,
    "simulated": coin.snapshot()["simulated"],
    "history": {r: len(price_history(coin, r)) for r in RANGES},
    "last_point_is_latest_tick": price_history(coin, "1h")[-1] == (last.time, last.price),
    "stored_twice": again,
    "low_after_late_tick": str(minute.low.normalize()),
    "open_after_late_tick": str(minute.open.normalize()),
    "purged": purge_expired_prices(now=last.time + timedelta(days=400)).ticks,
    "hours_kept": PriceRollup.objects.filter(resolution="1h").count(),
}))
"""


@pytest.mark.slow
def test_polls_history_and_retention_work_on_sqlite(tmp_path):
    manage = sqlite_manage(tmp_path / "db.sqlite3", PRICE_SOURCE="simulated")

    manage("migrate", "--noinput", "-v", "0")
    manage("poll_prices", "--once")
    manage("poll_prices", "--once")
    result = json.loads(manage("shell", "-c", CHECKS).strip().splitlines()[-1])

    assert result["ticks"] == 20
    assert result["sources"] == ["simulated"]
    assert result["simulated"] is True
    assert 1 <= result["history"]["1h"] <= 3  # 5-second buckets may merge close ticks
    assert all(n >= 1 for n in result["history"].values())
    assert result["last_point_is_latest_tick"]
    assert result["stored_twice"] == [1, 0]
    assert (result["low_after_late_tick"], result["open_after_late_tick"]) == ("1.5", "1.5")
    assert result["purged"] == 21
    assert result["hours_kept"] >= 10
