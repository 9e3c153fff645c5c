from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import TruncHour


def counts_from_events(apps, schema_editor):
    """Start the hourly counts from the last day's stored conversions (ingestion adds the later ones)."""
    from datetime import timedelta

    from django.utils import timezone

    Event = apps.get_model("analytics", "Event")
    HourlyConversions = apps.get_model("counters", "HourlyConversions")
    since = timezone.now() - timedelta(hours=25)
    rows = (Event.objects.filter(type="conversion", ts__gte=since).annotate(hour=TruncHour("ts"))
            .values("placement_id", "hour").annotate(n=Count("id")).values_list("placement_id", "hour", "n"))
    HourlyConversions.objects.bulk_create(
        [HourlyConversions(placement_id=p, hour=h, conversions=n) for p, h, n in rows], batch_size=5000)


class Migration(migrations.Migration):

    dependencies = [
        ("counters", "0001_variant_impressions"),
    ]

    operations = [
        migrations.CreateModel(
            name="HourlyConversions",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("placement_id", models.BigIntegerField()),
                ("hour", models.DateTimeField(help_text="The hour's start (UTC).")),
                ("conversions", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("placement_id", "hour"),
                                                        name="unique_hourly_conversions")],
            },
        ),
        migrations.RunPython(counts_from_events, migrations.RunPython.noop),
    ]
