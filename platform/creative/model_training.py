"""The placement page's "train a model now", as an interface creative owns.

Creative's admin offers to train a placement's ranker, but training lives in ranking, which builds on
creative. So creative declares what it calls (`TrainNow`) and ranking registers its implementation when
its app is ready (`ranking.apps`: `ranking.services.queue_training`); creative never imports ranking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class TrainingRun(Protocol):
    """What a request to train answers: whether it `ran` at once (no task broker configured) and then the
    training's `summary` (None when there is not enough logged traffic yet); else it was queued."""

    @property
    def ran(self) -> bool: ...

    @property
    def summary(self) -> dict[str, Any] | None: ...


TrainNow = Callable[[int], TrainingRun]  # placement id -> the run, activated only if it passes the gate

_train_now: TrainNow | None = None


def register(train_now: TrainNow) -> None:
    """Install the implementation (ranking does, at start-up)."""
    global _train_now
    _train_now = train_now


def train_now(placement_id: int) -> TrainingRun:
    """Train the placement's model now (queued where a broker is configured)."""
    if _train_now is None:
        raise RuntimeError("No trainer is registered: the ranking app must be in INSTALLED_APPS.")
    return _train_now(placement_id)
