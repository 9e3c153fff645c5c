"""Impressions say whether a client re-rank moved them (`rerank`, `rerank_probability`), held ones too."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0007_imported_history'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='rerank',
            field=models.CharField(blank=True, db_default='', default='', max_length=16,
                                   help_text="Why the client moved this variant from the decision's order "
                                             "('' = it did not)."),
        ),
        migrations.AddField(
            model_name='event',
            name='rerank_probability',
            field=models.FloatField(blank=True, null=True,
                                    help_text="With `rerank`: the probability the client's re-rank had of this "
                                              "shown order given the decision's order (1.0 for a deterministic "
                                              "re-rank)."),
        ),
        migrations.AddField(
            model_name='lateevent',
            name='rerank',
            field=models.CharField(blank=True, db_default='', default='', max_length=16),
        ),
        migrations.AddField(
            model_name='lateevent',
            name='rerank_probability',
            field=models.FloatField(blank=True, null=True),
        ),
    ]
