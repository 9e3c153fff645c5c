from django.db import migrations


def seed(apps, schema_editor):
    from creative.taxonomy import seed_taxonomy

    seed_taxonomy(apps.get_model("creative", "TagGroup"), apps.get_model("creative", "TagValue"))


class Migration(migrations.Migration):
    dependencies = [("creative", "0002_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
