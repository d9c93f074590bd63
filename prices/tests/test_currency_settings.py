"""DISPLAY_CURRENCIES is checked when the settings load: a bad list stops the start."""

import runpy
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(settings.BASE_DIR) / "cryptomonitor" / "settings.py"


@pytest.fixture
def load_settings(monkeypatch):
    """Execute cryptomonitor/settings.py afresh with these variables (DEBUG on)."""
    if (Path(settings.BASE_DIR) / ".env").exists():
        pytest.skip("a .env in the project directory would feed the settings")

    def load(**variables: str) -> dict:
        monkeypatch.setenv("DEBUG", "True")
        for name in ("VS_CURRENCY", "DISPLAY_CURRENCIES"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))

    return load


def test_the_default_currencies_are_the_six_asked_for_and_include_the_base(load_settings):
    loaded = load_settings()

    assert loaded["DISPLAY_CURRENCIES"] == ["usd", "eur", "gbp", "jpy", "btc", "eth"]
    assert loaded["EXCHANGE_RATES_SECONDS"] == 300
    assert loaded["EXCHANGE_RATE_STALE_SECONDS"] == 3600


def test_codes_are_lower_cased_and_repeats_dropped(load_settings):
    loaded = load_settings(DISPLAY_CURRENCIES="USD, eur,Eur,btc")

    assert loaded["DISPLAY_CURRENCIES"] == ["usd", "eur", "btc"]


def test_a_list_without_the_base_currency_stops_the_start(load_settings):
    with pytest.raises(ImproperlyConfigured, match=r"must include VS_CURRENCY \('usd'\)"):
        load_settings(DISPLAY_CURRENCIES="eur,gbp")


def test_a_code_that_is_not_a_currency_code_stops_the_start(load_settings):
    with pytest.raises(ImproperlyConfigured, match="2 to 10 letters"):
        load_settings(DISPLAY_CURRENCIES="usd,e-u-r")
