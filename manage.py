#!/usr/bin/env python
"""Django's command-line utility for Kaleido."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# platform/ holds the project and operators' apps as a source folder (see pyproject.toml).
for folder in (ROOT / "platform", ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaleido.settings")
    if sys.argv[1:2] == ["demo"]:
        # The demo is a development run: DEBUG on (a development SECRET_KEY is made under var/) unless set.
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
