"""On PostgreSQL, turn analytics_event into a table partitioned by day on `ts`.

A unique constraint on a partitioned table must include the partition key, so event_id
uniqueness lives in analytics_eventkey (created in 0003) and the primary key becomes (id, ts).
Other databases keep the plain table.
"""

from django.db import migrations

FORWARD = """
CREATE TABLE analytics_event_new (
    id bigint NOT NULL,
    event_id varchar(64) NOT NULL,
    type varchar(12) NOT NULL,
    decision_id uuid NULL,
    variant_id bigint NOT NULL,
    user_id varchar(128) NOT NULL,
    position smallint NOT NULL CHECK (position >= 0),
    ts timestamp with time zone NOT NULL,
    received_at timestamp with time zone NOT NULL,
    placement_id bigint NOT NULL,
    bucket varchar(10) NOT NULL DEFAULT '',
    experiment_id bigint NULL,
    propensity double precision NULL,
    segment_key varchar(255) NOT NULL DEFAULT ''
) PARTITION BY RANGE (ts);
CREATE TABLE analytics_event_default PARTITION OF analytics_event_new DEFAULT;
INSERT INTO analytics_event_new (id, event_id, type, decision_id, variant_id, user_id, position, ts,
    received_at, placement_id, bucket, experiment_id, propensity, segment_key)
  SELECT id, event_id, type, decision_id, variant_id, user_id, position, ts, received_at, placement_id,
    bucket, experiment_id, propensity, segment_key FROM analytics_event;
INSERT INTO analytics_eventkey (event_id, ts) SELECT event_id, ts FROM analytics_event ON CONFLICT DO NOTHING;
DROP TABLE analytics_event;
ALTER TABLE analytics_event_new RENAME TO analytics_event;
CREATE SEQUENCE analytics_event_id_seq OWNED BY analytics_event.id;
SELECT setval('analytics_event_id_seq', COALESCE((SELECT max(id) FROM analytics_event), 0) + 1, false);
ALTER TABLE analytics_event ALTER COLUMN id SET DEFAULT nextval('analytics_event_id_seq');
ALTER TABLE analytics_event ADD CONSTRAINT analytics_event_pkey PRIMARY KEY (id, ts);
ALTER TABLE analytics_event ADD CONSTRAINT analytics_event_placement_fk FOREIGN KEY (placement_id)
    REFERENCES creative_placement (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX event_placement_time ON analytics_event (placement_id, ts);
CREATE INDEX analytics_event_event_id_idx ON analytics_event (event_id);
CREATE INDEX analytics_event_decision_id_idx ON analytics_event (decision_id);
CREATE INDEX analytics_event_experiment_id_idx ON analytics_event (experiment_id);
"""


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD.split(";\n"):
        if statement.strip():
            schema_editor.execute(statement)
    from analytics.partitions import ensure_upcoming_partitions

    ensure_upcoming_partitions(connection=schema_editor.connection)


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("analytics", "0003_rollups_and_dedupe"),
    ]

    # Reversing would need the plain table back; drop the database instead.
    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]
