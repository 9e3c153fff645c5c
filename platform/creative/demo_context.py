"""What the demo steps share: the seeded objects and a place to print."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class DemoContext:
    stdout: TextIO
    base_url: str = "http://127.0.0.1:8000"
    placements: list[Any] = field(default_factory=list)
    kits: list[Any] = field(default_factory=list)
    users: int = 4000
    extras: dict[str, Any] = field(default_factory=dict)

    def say(self, message: str = "") -> None:
        self.stdout.write(message + "\n")
