"""On PostgreSQL, drop event indexes nothing reads (idempotency lives in analytics_eventkey and reports
read the rollups): every index is paid for by each ingested event."""

from django.db import migrations


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS analytics_event_event_id_idx")
    schema_editor.execute("DROP INDEX IF EXISTS analytics_event_experiment_id_idx")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_partition_events_by_day")]
    operations = [migrations.RunPython(drop, migrations.RunPython.noop, elidable=False)]
