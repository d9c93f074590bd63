"""The `mail` host: an SMTP sink that records every message it accepts.

Each accepted message becomes one JSON line in the record file, written and
flushed before the sink answers 250, so a message the sender saw accepted is
on file even if the sink is killed right after. The harness reads the file
(`MailRecord`), also while the mail host's network is cut.

    python -m deploy.cluster.mail --host 10.77.0.40 --port 1025 --record PATH
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

from deploy.cluster import serving

# Our email transport names the Delivery row(s) a message carries here.
DELIVERY_HEADER = "X-CryptoMonitor-Delivery"


class RecordingHandler:
    """aiosmtpd handler: one JSON line per accepted message."""

    def __init__(self, record: Path) -> None:
        self.record = record.open("a", encoding="utf-8")
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        entry = {
            "accepted_at": time.time(),
            "message_id": message.get("Message-ID", ""),
            "delivery": message.get(DELIVERY_HEADER, ""),
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": message.get("Subject", ""),
            "peer": session.peer[0] if session.peer else "",
            "raw": envelope.content.decode("utf-8", errors="replace"),
        }
        with self.lock:
            self.record.write(json.dumps(entry) + "\n")
            self.record.flush()
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Mail:
    accepted_at: float
    message_id: str
    delivery: str
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    peer: str
    raw: str


class MailRecord:
    """What the sink has accepted so far, read from its record file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def messages(self) -> list[Mail]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        # A line still being written (no newline yet) is skipped until whole.
        return [Mail(**json.loads(line)) for line in lines if line.endswith("}")]

    def count(self) -> int:
        return len(self.messages())

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages() if address in m.rcpt_tos]

    def duplicates(self) -> dict[str, int]:
        """Message-IDs accepted more than once (an exactly-once check)."""
        seen = Counter(m.message_id for m in self.messages())
        return {message_id: n for message_id, n in seen.items() if n > 1}


def main() -> None:
    args = serving.arguments(__doc__.splitlines()[0], "--record")
    controller = Controller(RecordingHandler(args.record), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail: SMTP sink at {args.host}:{args.port}, recording to {args.record}", flush=True)
    serving.wait_for_stop()
    controller.stop()


if __name__ == "__main__":
    main()
