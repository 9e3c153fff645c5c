"""Settings for the test suite: the project's settings with DEBUG turned on explicitly.

DEBUG is off by default (production); the tests, like the demo, ask for it. It is set in the
environment before the settings load, so a development SECRET_KEY is made under var/ and every
process a test starts (manage.py, Celery workers, servers) inherits the same choice.
"""

import os

os.environ.setdefault("DEBUG", "1")

from .settings import *  # noqa: E402, F403
