"""What the prices app announces to the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent with `batch` (a list of {"coin_id", "tick_id", "price", "previous_price",
# "time", and "market_cap", "volume_24h", "change_24h_pct" each with its
# "previous_" value, null when unknown}, one per
# coin whose live price moved) once the poll that wrote those ticks has
# committed; never for a backfill. alerts evaluates its alerts on it
# (alerts.receivers). Receivers must not raise: the rows are already stored.
live_batch_committed = Signal()
