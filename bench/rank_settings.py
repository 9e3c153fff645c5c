"""Settings for bench/rank.py only: the project settings plus a bare endpoint to compare against."""

from kaleido.settings import *  # noqa: F403

ROOT_URLCONF = "rank_urls"
