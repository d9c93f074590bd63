"""Two requests racing for a per-user cap, on two real PostgreSQL connections (tests only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import connection, transaction


def race(first: Callable[[], object], second: Callable[[], object]) -> list[str]:
    """Run `first` (held open 0.5 s after it returns), then `second` meanwhile."""
    written = threading.Event()
    outcomes: list[str] = []

    def run(action: Callable[[], object], hold: bool) -> None:
        try:
            with transaction.atomic():
                action()
                if hold:
                    written.set()
                    time.sleep(0.5)
            outcomes.append("saved")
        except ValidationError as refused:
            outcomes.append(" ".join(refused.messages))
        finally:
            written.set()
            connection.close()

    threads = [threading.Thread(target=run, args=(first, True))]
    threads[0].start()
    assert written.wait(10)
    threads.append(threading.Thread(target=run, args=(second, False)))
    threads[1].start()
    for thread in threads:
        thread.join(20)
    return sorted(outcomes)
