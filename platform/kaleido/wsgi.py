import os
import sys
from pathlib import Path

_root = Path(__file__).resolve().parents[2]
for _folder in (_root / "platform", _root):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaleido.settings")
application = get_wsgi_application()
