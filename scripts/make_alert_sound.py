"""Write static/sounds/alert.wav: the in-app popup's chime, made here, not fetched.

Two short sine tones (E6 then A6) with a soft attack and decay, 16-bit mono.
Run it again after changing a constant: `python scripts/make_alert_sound.py`.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22050
TONES = ((1318.5, 0.12), (1760.0, 0.22))  # (hertz, seconds)
VOLUME = 0.35
TARGET = Path(__file__).resolve().parent.parent / "static" / "sounds" / "alert.wav"


def tone(hertz: float, seconds: float) -> list[int]:
    count = int(RATE * seconds)
    attack = int(RATE * 0.005)
    samples = []
    for i in range(count):
        envelope = min(1.0, i / attack) * math.exp(-4.0 * i / count)
        value = VOLUME * envelope * math.sin(2 * math.pi * hertz * i / RATE)
        samples.append(int(value * 32767))
    return samples


def main() -> None:
    samples = [sample for hertz, seconds in TONES for sample in tone(hertz, seconds)]
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(TARGET), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))


if __name__ == "__main__":
    main()
