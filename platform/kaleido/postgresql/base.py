"""Django's PostgreSQL backend with a cheaper health check for persistent connections.

Django pings a reused connection (SELECT 1) at the start of every request that touches the database,
a round trip that cost a rank call about 0.5 ms (bench/RESULTS.md). Here a connection that finished
its previous request without a database error less than DB_HEALTH_CHECK_GRACE_S seconds ago is
trusted without the ping; an idle connection, or one that saw an error, is still checked. If the
server restarts inside that window, the one request that finds the connection dead answers 503 and
its connection is dropped, so the next request reconnects.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    healthy_until = 0.0

    def close_if_health_check_failed(self) -> None:
        if (self.connection is not None and self.health_check_enabled and not self.health_check_done
                and time.monotonic() < self.healthy_until):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self) -> None:
        clean = self.connection is not None and not self.errors_occurred
        super().close_if_unusable_or_obsolete()
        if clean and self.connection is not None:
            self.healthy_until = time.monotonic() + settings.DB_HEALTH_CHECK_GRACE_S
        else:
            self.healthy_until = 0.0
