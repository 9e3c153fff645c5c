"""Ranking's serving vocabulary: the buckets a placement serves from and the exploration policies of the
model bucket, with the exploration defaults a new placement starts with.

Ranking owns what these mean (ranking.buckets assigns users to the buckets, ranking.serving and
ranking.policy serve them); other apps read them from ranking.buckets. They are written here, in the
project package, only because creative's Placement stores a placement's choice in its own fields
(default_mode, exploration_policy, exploration_epsilon, new_variant_impressions) and creative imports
no other product app. The stored values never change: they are in every decision and event row.
"""

from __future__ import annotations

from django.db import models


class ServingMode(models.TextChoices):
    """A bucket: what a user of it is shown. The order is the buckets' order on [0, 1) (ranking.buckets)."""

    CONTROL = "control", "Control (default design)"
    RANDOM = "random", "Random (uniform over live variants)"
    MODEL = "model", "Model (personalized)"


class ExplorationPolicy(models.TextChoices):
    """How the model bucket keeps trying designs it is unsure about (ranking.policy)."""

    EPSILON_GREEDY = "epsilon_greedy", "ε-greedy"
    THOMPSON = "thompson", "Thompson sampling"


DEFAULT_EXPLORATION_EPSILON = 0.05  # share of model-bucket traffic explored
DEFAULT_NEW_VARIANT_IMPRESSIONS = 1000  # a new variant's guaranteed exploration lasts this many impressions
