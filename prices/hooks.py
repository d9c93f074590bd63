"""What the prices app announces to the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent with `batch` (a list of {"coin_id", "tick_id", "price", ...}, one per
# coin whose live price moved) once the poll that wrote those ticks has
# committed; never for a backfill. alerts evaluates its alerts on it
# (alerts.receivers). Receivers must not raise: the rows are already stored.
live_batch_committed = Signal()
