from datetime import UTC, datetime, timedelta
from decimal import Decimal

from prices.sparklines import HEIGHT, PAD, sparkline_svg

T0 = datetime(2026, 11, 21, tzinfo=UTC)


def points(*prices: str) -> list[tuple[datetime, Decimal]]:
    return [(T0 + timedelta(minutes=i), Decimal(p)) for i, p in enumerate(prices)]


def coordinates(svg: str) -> list[tuple[float, float]]:
    raw = svg.split('points="')[1].split('"')[0]
    return [tuple(float(n) for n in pair.split(",")) for pair in raw.split()]


def test_it_draws_the_highest_price_at_the_top():
    ys = [y for _, y in coordinates(sparkline_svg(points("1", "3", "2")))]

    assert ys == [HEIGHT - PAD, PAD, HEIGHT / 2]


def test_it_spreads_points_by_time():
    xs = [x for x, _ in coordinates(sparkline_svg(points("1", "2", "3")))]

    assert xs[0] == PAD
    assert xs[1] - xs[0] == xs[2] - xs[1]


def test_it_marks_a_falling_trend_down():
    assert "sparkline-down" in sparkline_svg(points("5", "6", "4"))


def test_it_draws_a_flat_price_without_dividing_by_zero():
    assert "sparkline-up" in sparkline_svg(points("2", "2"))


def test_it_draws_an_empty_state_for_too_little_history():
    svg = sparkline_svg(points("2"))

    assert "sparkline-empty" in svg
    assert "<polyline" not in svg
