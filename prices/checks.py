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
