"""platform/ is a source folder: the standard library's `platform` must still be the real one."""

import platform
import sys
import sysconfig
from pathlib import Path

import kaleido

ROOT = Path(__file__).resolve().parents[2]


def test_stdlib_platform_module_still_works_inside_the_project():
    # The premise: the project's packages are imported from the platform/ folder, which sits on the path.
    assert Path(kaleido.__file__).resolve().parent.parent == ROOT / "platform"
    assert ROOT / "platform" in {Path(entry).resolve() for entry in sys.path if entry}
    # And yet `import platform` is the standard library's module, not the folder.
    assert Path(platform.__file__).resolve() == Path(sysconfig.get_path("stdlib")).resolve() / "platform.py"
    assert platform.python_version() == ".".join(map(str, sys.version_info[:3]))
