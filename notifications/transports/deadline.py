"""httpx's share of a send's one deadline: each phase gets only the time left.

httpcore takes each phase's timeout once, as the phase starts, and applies
it to every socket operation of the phase, so a server that sends a byte
now and then (headers, a TLS handshake, a body) is never timed out.
`TimeLeft` gives each phase only the time left, so httpx reports a timeout
as such; the send's guard (`notifications.egress.Guard`) ends whatever is
still blocked when the deadline comes, and bounds the name lookup.
"""

from __future__ import annotations

import time


class TimeLeft(dict):
    """httpcore's "timeout" extension, answering each wait with the time left.

    httpcore looks up a phase's timeout as the phase starts (connecting,
    sending, awaiting the reply), so each phase gets only what the earlier
    ones left of the send's deadline. A connection attempt gets at most
    `connect_share`: an equal part of the time left for each address still
    to try, so a dead address leaves time for the next. The TLS handshake
    reuses the connect timeout; the send's guard stops it at the deadline.
    """

    def __init__(self, deadline: float, connect_share: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.connect_share = connect_share

    def get(self, phase: str, default: object = None) -> float:
        left = self.deadline - time.monotonic()
        if phase == "connect":
            left = min(left, self.connect_share)
        # Never 0 or less: a zero socket timeout means non-blocking, not "time is up".
        return max(left, 0.001)
