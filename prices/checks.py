"""System checks for the CoinGecko settings: catch at start what would fail quietly later."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_coingecko_key(app_configs=None, **kwargs) -> list:
    """A key is sent only for the demo and pro plans; those plans need one."""
    if settings.PRICE_SOURCE != "coingecko":
        return []
    plan, has_key = settings.COINGECKO_API_PLAN, bool(settings.COINGECKO_API_KEY)
    if plan == "public" and has_key:
        return [
            Warning(
                "COINGECKO_API_KEY is set but COINGECKO_API_PLAN is 'public', so the key is "
                "never sent.",
                hint="Set COINGECKO_API_PLAN=demo or pro to match your key.",
                id="prices.W001",
            )
        ]
    if plan in ("demo", "pro") and not has_key:
        return [
            Error(
                f"COINGECKO_API_PLAN is {plan!r} but COINGECKO_API_KEY is empty: every poll "
                "would be refused.",
                hint="Set COINGECKO_API_KEY, or COINGECKO_API_PLAN=public.",
                id="prices.E001",
            )
        ]
    return []


@register()
def check_exchange_rate_intervals(app_configs=None, **kwargs) -> list:
    """Rates are fetched at all, and a fresh one comes before the last goes stale."""
    every, stale = settings.EXCHANGE_RATES_SECONDS, settings.EXCHANGE_RATE_STALE_SECONDS
    if every < 1:
        return [
            Error(
                f"EXCHANGE_RATES_SECONDS is {every}: exchange rates would never be fetched.",
                hint="Set it to the seconds between fetches, e.g. 300.",
                id="prices.E002",
            )
        ]
    if stale <= every:
        return [
            Warning(
                f"EXCHANGE_RATE_STALE_SECONDS ({stale}) is not longer than "
                f"EXCHANGE_RATES_SECONDS ({every}): every rate goes stale before the next "
                "fetch, and prices fall back to the base currency between fetches.",
                hint="Allow a few missed fetches, e.g. 3600 for fetches every 300 s.",
                id="prices.W002",
            )
        ]
    return []
