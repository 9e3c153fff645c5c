from django.apps import AppConfig


class RankingConfig(AppConfig):
    name = "ranking"
    verbose_name = "Ranking: experiments, decisions and models"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects catalogue invalidation
