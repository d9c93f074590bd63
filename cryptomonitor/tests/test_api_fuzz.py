"""Schemathesis against the live schema of a running server, with a token.

A bounded run is part of `make test`; `make fuzz` runs the long one
(`pytest -m fuzz --fuzz-examples=5000`).
"""

import subprocess
import sys
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from alerts.models import Alert, AlertEvent
from notifications.models import Delivery, InAppNotification
from prices.models import Coin, WatchlistEntry
from summaries.models import SummarySchedule

SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
# Server errors and answers that contradict the schema: codes, headers, bodies.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture
def fuzz_config(owner, tmp_path) -> Path:
    """The owner's data, and a schemathesis config that points path parameters at it.

    Random ids would nearly all be 404s; fixed ones let the generated
    bodies and query strings reach the views' real work.
    """
    coins = [
        Coin.objects.create(
            coingecko_id=coingecko_id,
            symbol=symbol,
            name=coingecko_id.title(),
            market_cap_rank=rank,
            is_tracked=True,
            price=Decimal("123.45"),
            price_updated_at=timezone.now(),
        )
        for rank, (coingecko_id, symbol) in enumerate(
            [("bitcoin", "btc"), ("ethereum", "eth"), ("ethereum-wormhole", "eth")], start=1
        )
    ]
    alert, doomed = (
        Alert.objects.create(user=owner, coin=coins[0], condition="above", target=100)
        for _ in range(2)
    )
    event = AlertEvent.objects.create(
        alert=alert, coin=coins[0], price=101, reason="above 100", triggered_at=timezone.now()
    )
    delivery = Delivery.objects.create(user=owner, event=event, channel="email")
    notification = InAppNotification.objects.create(user=owner, event=event, title="BTC")
    WatchlistEntry.objects.create(user=owner, coin=coins[1])
    summary, doomed_summary = (
        SummarySchedule.objects.create(user=owner, time_of_day=time(8, 0)) for _ in range(2)
    )
    v1 = "/api/v1"
    fixed = {
        f"GET {v1}/alerts/{{id}}/": ("path.id", alert.pk),
        f"PUT {v1}/alerts/{{id}}/": ("path.id", alert.pk),
        f"PATCH {v1}/alerts/{{id}}/": ("path.id", alert.pk),
        f"POST {v1}/alerts/{{id}}/pause/": ("path.id", alert.pk),
        f"POST {v1}/alerts/{{id}}/resume/": ("path.id", alert.pk),
        f"GET {v1}/alerts/{{id}}/events/": ("path.id", alert.pk),
        f"DELETE {v1}/alerts/{{id}}/": ("path.id", doomed.pk),
        f"GET {v1}/notifications/{{id}}/": ("path.id", notification.pk),
        f"POST {v1}/notifications/{{id}}/read/": ("path.id", notification.pk),
        f"GET {v1}/deliveries/{{id}}/": ("path.id", delivery.pk),
        f"GET {v1}/coins/{{id}}/": ("path.id", '"bitcoin"'),
        f"GET {v1}/coins/{{id}}/history/": ("path.id", '"bitcoin"'),
        f"GET {v1}/watchlist/{{coin}}/": ("path.coin", '"ethereum"'),
        f"DELETE {v1}/watchlist/{{coin}}/": ("path.coin", '"ethereum"'),
        f"GET {v1}/prices/{{symbol}}/history/": ("path.symbol", '"eth"'),
        f"GET {v1}/summaries/{{id}}/": ("path.id", summary.pk),
        f"PUT {v1}/summaries/{{id}}/": ("path.id", summary.pk),
        f"PATCH {v1}/summaries/{{id}}/": ("path.id", summary.pk),
        f"DELETE {v1}/summaries/{{id}}/": ("path.id", doomed_summary.pk),
    }
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "".join(
            f'[[operations]]\ninclude-name = "{operation}"\n'
            f'parameters = {{ "{name}" = {value} }}\n\n'
            for operation, (name, value) in fixed.items()
        )
    )
    return config


@pytest.fixture
def api_key(owner) -> str:
    return ApiToken.issue(owner, "schemathesis")[1]


def run_schemathesis(
    url: str, key: str, config: Path, max_examples: int, max_time: int, phases: str
) -> None:
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{url}/api/schema/?format=json",
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        CHECKS,
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(max_time),
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "10",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=max_time + 120)
    assert result.returncode == 0, result.stdout[:20000] + result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True)
def test_a_bounded_fuzz_finds_no_server_error_or_schema_violation(
    live_server, api_key, fuzz_config
):
    run_schemathesis(
        live_server.url,
        api_key,
        fuzz_config,
        max_examples=12,
        max_time=45,
        phases="examples,fuzzing",
    )


@pytest.mark.fuzz
@pytest.mark.django_db(transaction=True)
def test_a_long_fuzz_finds_no_server_error_or_schema_violation(
    live_server, api_key, fuzz_config, request
):
    examples = request.config.getoption("--fuzz-examples") or 1000
    seconds = request.config.getoption("--fuzz-seconds")
    run_schemathesis(
        live_server.url,
        api_key,
        fuzz_config,
        max_examples=examples,
        max_time=seconds,
        phases="examples,coverage,fuzzing,stateful",
    )
