"""Experiment users: a row per (experiment, bucket, user) with their totals and first-exposure segment key,
kept by the rollup refresh so the experiment report reads a row per user. Filled here from the user-day
rollups already stored."""

import django.db.models.deletion
from django.db import migrations, models

FILL_SQL = """
INSERT INTO analytics_experimentuser (placement_id, experiment_id, bucket, user_id, first_day, segment_key,
    impressions, clicks, conversions)
SELECT placement_id, experiment_id, bucket, user_id, day, segment_key, i, c, v FROM (
    SELECT placement_id, experiment_id, bucket, user_id, day, segment_key,
        SUM(impressions) OVER per_user AS i, SUM(clicks) OVER per_user AS c, SUM(conversions) OVER per_user AS v,
        ROW_NUMBER() OVER (PARTITION BY experiment_id, bucket, user_id
                           ORDER BY day, impressions DESC, segment_key{collate}) AS r
    FROM analytics_userdayrollup WHERE experiment_id <> 0
    WINDOW per_user AS (PARTITION BY experiment_id, bucket, user_id)
) AS t WHERE r = 1
"""


def fill(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL.format(collate=' COLLATE "C"' if connection.vendor == "postgresql" else ""))


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0008_event_client_rerank'),
        ('creative', '0005_layout_template_file_and_color_tolerance'),
    ]

    operations = [
        migrations.CreateModel(
            name='ExperimentUser',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('experiment_id', models.BigIntegerField()),
                ('bucket', models.CharField(blank=True, default='', max_length=10)),
                ('user_id', models.CharField(max_length=128)),
                ('first_day', models.DateField()),
                ('segment_key', models.CharField(blank=True, default='', max_length=255)),
                ('impressions', models.BigIntegerField(default=0)),
                ('clicks', models.BigIntegerField(default=0)),
                ('conversions', models.BigIntegerField(default=0)),
                ('placement', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='creative.placement')),
            ],
            options={
                'indexes': [models.Index(fields=['placement', 'first_day'], name='experimentuser_first_day')],
                'constraints': [models.UniqueConstraint(fields=('experiment_id', 'bucket', 'user_id'), name='unique_experiment_user')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
