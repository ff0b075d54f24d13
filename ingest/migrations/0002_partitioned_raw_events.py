"""The raw-event table, partitioned by day on created_at (declarative partitioning).

Partitions are created by ingest.partitions (ahead by beat, on demand for late events) and
dropped after the retention window. The primary key includes the partition key, as
PostgreSQL requires; id-only dedup lives in ingest_seenevent.
"""

from django.db import migrations

CREATE = """
CREATE TABLE ingest_rawevent (
    id varchar(200) NOT NULL,
    created_at timestamptz NOT NULL,
    batch_id bigint,
    model_id bigint NOT NULL,
    variant varchar(16) NOT NULL,
    provider_id bigint NOT NULL,
    app_id bigint NOT NULL,
    category_id bigint NOT NULL,
    origin varchar(500) NOT NULL,
    prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL,
    cost numeric(24, 10) NOT NULL,
    latency_ms integer,
    generation_ms integer,
    cancelled boolean NOT NULL,
    streamed boolean,
    finish_reason varchar(50) NOT NULL,
    is_byok boolean NOT NULL,
    PRIMARY KEY (created_at, id)
) PARTITION BY RANGE (created_at)
"""


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]
    operations = [migrations.RunSQL(CREATE, "DROP TABLE ingest_rawevent")]
