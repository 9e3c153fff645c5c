from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from .services import QueuedTraining


def _train_now(placement_id: int) -> QueuedTraining:
    from .services import queue_training  # at call time: the facade pulls in training, not needed to start

    return queue_training(placement_id)


class RankingConfig(AppConfig):
    name = "ranking"
    verbose_name = "Ranking: experiments, decisions and models"

    def ready(self) -> None:
        from creative import model_training

        from . import signals  # noqa: F401 - connects catalogue invalidation

        # Creative's placement page trains a model through the interface creative owns; ranking implements it.
        model_training.register(_train_now)
