from django.apps import AppConfig


class CreativeConfig(AppConfig):
    name = "creative"
    verbose_name = "Creative: placements, tags, kits and variants"
