from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation: models, LoRA styles and jobs"

    def ready(self) -> None:
        # Creative's admin tags materials through the interface creative owns; this app implements it.
        from creative import autotagging

        from . import tagging

        autotagging.register(tagging)
