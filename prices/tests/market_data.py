"""Real one-minute BTC/USD candles (March 2023) kept in the repository: data/README.md."""

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

CANDLES = Path(__file__).resolve().parent / "data" / "btcusd-1m-2023-03-01_21.csv.gz"


def candle_rows() -> Iterator[dict[str, str]]:
    """Every candle as the CSV has it (strings), oldest first."""
    with gzip.open(CANDLES, "rt", newline="") as file:
        yield from csv.DictReader(file)
