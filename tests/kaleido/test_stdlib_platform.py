"""platform/ is a source folder: the standard library's `platform` must still be the real one."""

import platform
import sys

from django.conf import settings


def test_stdlib_platform_module_still_works_inside_the_project():
    assert settings.INSTALLED_APPS  # the Django project is loaded
    assert platform.system() in {"Linux", "Darwin", "Windows"}
    assert platform.__file__.startswith(sys.base_prefix) or "python3" in platform.__file__
    assert hasattr(platform, "python_version")
