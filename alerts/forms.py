"""The alert form: model validation (Alert.full_clean) plus the fire-at-once warning."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.html import escape

from alerts.models import (
    METRIC_CONDITIONS,
    MOVEMENT_CONDITIONS,
    OWNER_FIELDS,
    PRICE_CONDITIONS,
    RANGE_CONDITIONS,
    STEP_CONDITIONS,
    UNKNOWN_COIN_MESSAGE,
    Alert,
    Condition,
    Status,
)
from common.delivery_channels import Channel
from common.display_currencies import base_currency, currency_choices, display_currencies
from notifications.models import offered_channels
from prices.currencies import RateUnavailable, UnsupportedCurrency, current_rates, usable_rate
from prices.models import Coin, decimal_text


class CoinSelect(forms.Select):
    """Each coin's option carries its price (data-price) for the form's presets."""

    def create_option(self, name, value, *args, **kwargs) -> dict:
        option = super().create_option(name, value, *args, **kwargs)
        coin = getattr(value, "instance", None)
        if coin is not None and coin.price is not None:
            option["attrs"]["data-price"] = f"{coin.price.normalize():f}"
        return option


class CoinChoiceField(forms.ModelChoiceField):
    """Tracked coins by CoinGecko id, each labelled with its current price."""

    widget = CoinSelect

    def label_from_instance(self, coin: Coin) -> str:
        if coin.price is None:
            return f"{coin.name} ({coin.symbol.upper()}), no price yet"
        return f"{coin.name} ({coin.symbol.upper()}), now {format_price(coin.price)}"


def format_price(price: Decimal) -> str:
    return f"{price.normalize():,f}" if price >= 1 else f"{price.normalize():f}"


# The condition menu in groups, each kind of condition together.
CONDITION_GROUPS = (
    ("Price", PRICE_CONDITIONS),
    ("Price range", RANGE_CONDITIONS),
    ("Price movement within a window", MOVEMENT_CONDITIONS),
    ("Price steps", STEP_CONDITIONS),
    ("Market cap, volume and 24 h change", METRIC_CONDITIONS),
)
# The numbers a condition may take; a field refusing one keeps its own error.
NUMBER_FIELDS = ("target", "threshold", "range_low", "range_high", "percent")


def grouped_conditions() -> list:
    """The condition's choices grouped for the menu, in the model's order."""
    groups = [
        (name, [(c.value, c.label) for c in Condition if c in members])
        for name, members in CONDITION_GROUPS
    ]
    return [("", "---------"), *groups]


# Posted by the warning's "Save anyway": the person wants the alert anyway.
CONFIRM_IMMEDIATE = "confirm_immediate"

EXPIRED_HELP = {
    Status.ACTIVE: "This alert has expired. Saving it with a future expiry, or none, "
    "makes it active again.",
    # Alert.revived_status: it expired paused, so it comes back paused.
    Status.PAUSED: "This alert expired while paused. Saving it with a future expiry, or "
    "none, makes it paused again: resume it to have it evaluated.",
}


class AlertForm(forms.ModelForm):
    coin = CoinChoiceField(
        queryset=Coin.objects.filter(is_tracked=True).order_by("market_cap_rank", "name"),
        to_field_name="coingecko_id",
        error_messages={"invalid_choice": UNKNOWN_COIN_MESSAGE},
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one channel."},
    )

    class Meta:
        model = Alert
        fields = list(OWNER_FIELDS)
        labels = {
            "percent": "Change (%)",
            "window": "Within",
            "cooldown_seconds": "Cooldown (seconds)",
        }
        help_texts = {
            "currency": "What the target, the range and a market cap or volume threshold are "
            "in. The alert is checked against prices converted at the current exchange rate, "
            "and waits while that rate is out of date.",
            "target": "For price conditions: above, below and crosses.",
            "percent": "For movements (rises, falls or moves by, within the window) and steps "
            "(each time the price has moved this much since the last alert).",
            "range_high": "The alert fires when the price moves into (or out of) the range "
            "from the other side; a jump over the whole range does neither.",
            "cooldown_seconds": "Repeating alerts wait at least this long between firings.",
        }
        widgets = {
            "expires_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        }
        error_messages = {
            name: {"invalid": Alert._meta.get_field(name).error_messages["invalid"]}
            for name in NUMBER_FIELDS
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["window"].required = False
        # Any display currency (alerts in it are evaluated at its rate); a
        # new alert's is the reader's display currency (the view's initial).
        # Not required: a post without it (a page from before the field)
        # keeps the alert's, the base for a new one.
        self.fields["currency"] = forms.ChoiceField(
            choices=self._currency_choices(),
            required=False,
            label="Currency",
            help_text=self._meta.help_texts["currency"],
        )
        # Prices are in the alert's currency: the labels name it, and
        # alert_form.js renames them when another one is chosen.
        currency = self.prices_currency.upper()
        self.fields["target"].label = f"Target price ({currency})"
        self.fields["range_low"].label = f"Range from ({currency})"
        self.fields["range_high"].label = f"Range to ({currency})"
        self.fields["threshold"].help_text = (
            "Market cap or 24 h volume in "
            f"<span data-currency-code>{escape(currency)}</span>, e.g. 1000000000000 for 1T; "
            "or the 24 h change in %, which may be negative: -5 means a fall of 5 % or more."
        )
        self.fields["condition"].choices = grouped_conditions()
        # Typed times are read in the zone the page shows (accounts.middleware).
        zone = timezone.get_current_timezone_name()
        self.fields["expires_at"].label = f"Expires at ({zone})"
        # For alert_form.js: its expiry presets count in this zone, and it
        # shows only the fields the chosen condition uses.
        self.fields["expires_at"].widget.attrs["data-time-zone"] = zone
        self.fields["condition"].widget.attrs.update(
            {
                "data-price-conditions": " ".join(sorted(PRICE_CONDITIONS)),
                "data-movement-conditions": " ".join(sorted(MOVEMENT_CONDITIONS)),
                "data-metric-conditions": " ".join(sorted(METRIC_CONDITIONS)),
                "data-range-conditions": " ".join(sorted(RANGE_CONDITIONS)),
                "data-step-conditions": " ".join(sorted(STEP_CONDITIONS)),
            }
        )
        self.fields[
            "expires_at"
        ].help_text = (
            f"Optional: the alert stops after this time, in {zone} (your account's time zone)."
        )
        self._offer_web_push_once_enabled()
        if self.instance.pk:
            self.initial["coin"] = self.instance.coin.coingecko_id
        if self.instance.status == Status.EXPIRED:
            self.fields["expires_at"].help_text = EXPIRED_HELP[self.instance.revived_status]

    def clean_currency(self) -> str:
        """A post without a currency (or an empty one) keeps the alert's, the base for a new one.

        Never blank: an empty field would skip the model's own check, and an
        alert in "" matches no batch row, so it would never fire.
        """
        return self.cleaned_data.get("currency") or self.instance.currency or base_currency()

    def _currency_choices(self) -> list[tuple[str, str]]:
        """The display currencies; and an edited alert's own if no longer one of them,
        shown as such rather than silently replaced by the menu's first (the model
        refuses it on save, with its message)."""
        choices = currency_choices()
        own = self.instance.currency
        if self.instance.pk and own and own not in display_currencies():
            choices.append((own, f"{own.upper()} (no longer offered)"))
        return choices

    @property
    def prices_currency(self) -> str:
        """The currency the form's prices are in: posted, initial, or the alert's."""
        if self.is_bound:
            posted = self.data.get("currency")
            if posted in dict(self.fields["currency"].choices):
                return posted
        return self.initial.get("currency") or self.instance.currency or base_currency()

    @property
    def selected_price_in_currency(self) -> Decimal | None:
        """The selected coin's price in the form's currency when that is not the base
        (None then, or without a price or a usable rate): shown beside the base price."""
        coin = self.selected_coin
        if coin is None or coin.price is None or self.prices_currency == base_currency():
            return None
        try:
            return usable_rate(self.prices_currency).convert(coin.price)
        except (RateUnavailable, UnsupportedCurrency):
            return None

    @property
    def preset_rates(self) -> dict[str, str]:
        """For alert_form.js's presets: each currency's factor from the base, usable ones only.

        The coin options' data-price is in the base; a preset in EUR is that
        times the EUR factor. A currency left out (stale or never fetched)
        has its presets disabled.
        """
        return {
            code: decimal_text(rate.factor)
            for code, rate in current_rates().items()
            if not rate.stale
        }

    def _offer_web_push_once_enabled(self) -> None:
        field = self.fields["channels"]
        field.choices = offered_channels(
            field.choices, self.instance.user_id, self.instance.channels
        )

    def _post_clean(self) -> None:
        # A target or percent the field refused (say, too many digits) is left
        # None on the instance, so the model's cross-field rules would add
        # "Enter a target price." beside the real error: keep the field's own.
        refused = {name: self.errors[name].copy() for name in NUMBER_FIELDS if name in self.errors}
        super()._post_clean()
        self._errors.update(refused)

    @property
    def selected_coin(self) -> Coin | None:
        """The coin the form is about: submitted, preselected or the alert's."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["coin"]
        key = self.data.get("coin") if self.is_bound else self.initial.get("coin")
        return Coin.objects.filter(coingecko_id=key, is_tracked=True).first() if key else None

    @property
    def fires_immediately(self) -> bool:
        """A valid level alert that is already true at the coin's latest snapshot."""
        return self.is_valid() and self.instance.would_fire_on(self.cleaned_data["coin"])

    @property
    def needs_confirmation(self) -> bool:
        return self.fires_immediately and not self.confirmed_immediate

    @property
    def confirmed_immediate(self) -> bool:
        """Whether the person saw the fire-at-once warning and saves anyway.

        The warning page renders the one hidden input (alert_form.html); it is
        not a form field, whose own empty hidden input would be posted too and,
        sent last, win.
        """
        return self.data.get(CONFIRM_IMMEDIATE) == "True"

    revived = False  # whether save() revived an expired alert

    def save(self, commit: bool = True) -> Alert:
        """Save through Alert.save_edit; raises ValidationError at the active cap."""
        alert = super().save(commit=False)  # Raises on errors; the alert holds the new values.
        if not commit:
            alert.forget_firings()
            return alert
        # Revives an expired alert given a future expiry, as the row is when saved.
        self.revived = alert.save_edit()
        return alert
