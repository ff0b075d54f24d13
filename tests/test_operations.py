"""Operations: /metrics moves with ingest, /readyz tells the truth, the replica router splits
reads from writes, request ids reach responses."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from config import embedded
from config.db_router import ReplicaRouter
from ingest.models import InboxBatch, UsageDaily
from ingest.services import import_events
from rankings import selectors
from tests.conftest import wait_for
from tests.factories import EventFactory, post_events


def metric(body: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def scrape(client) -> str:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_metrics_expose_ingest_counters_that_move(client, ingest_key, start_worker):
    key_row, key = ingest_key
    before = scrape(client)
    good = EventFactory.build_batch(5)
    post_events(client, key, [*good, good[0], {"id": "bad"}])
    after = scrape(client)
    for outcome, n in (("accepted", 5), ("duplicate", 1), ("rejected", 1)):
        delta = metric(after, "tokenrank_ingest_events_total", key=key_row.name, outcome=outcome) - metric(
            before, "tokenrank_ingest_events_total", key=key_row.name, outcome=outcome
        )
        assert delta == n, outcome
    assert metric(after, "tokenrank_inbox_pending_batches") == 1
    start_worker()
    # Recorded just after the batch commits: wait for the metric itself.
    wait_for(lambda: metric(scrape(client), "tokenrank_batches_total", result="done") >= 1)
    done = scrape(client)
    assert metric(done, "tokenrank_batches_total", result="done") >= 1
    assert metric(done, "tokenrank_batch_processing_seconds_count") >= 1
    assert metric(done, "tokenrank_rollup_rows_written_total", grain="daily") >= 1
    assert metric(done, "tokenrank_inbox_pending_batches") == 0
    assert metric(done, "tokenrank_http_request_seconds_count", view="ingest:events", method="POST") >= 1


@pytest.mark.django_db
def test_metrics_are_not_public(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.TOKENRANK = {**settings.TOKENRANK, "METRICS_TOKEN": "s3cret-token"}
    assert (
        client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code
        == 403
    )
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token"
        ).status_code
        == 200
    )


@pytest.mark.django_db
def test_readyz_ok_then_503_when_the_inbox_lags(client, settings):
    assert client.get("/readyz").json() == {"status": "ready"}
    InboxBatch.objects.create(events=[], event_count=0, received_at=timezone.now() - timedelta(minutes=30))
    settings.TOKENRANK = {**settings.TOKENRANK, "READY_MAX_LAG_SECONDS": 60}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert any(r.startswith("inbox:") for r in response.json()["reasons"])
    assert client.get("/healthz").status_code == 200  # alive, just not ready


@pytest.mark.django_db
@pytest.mark.skipif(not django_settings.EMBEDDED_REDIS, reason="stops the broker: needs the embedded one")
def test_readyz_503_when_the_broker_is_down(client, settings):
    embedded.stop_redis(settings.DATA_DIR)
    try:
        response = client.get("/readyz")
    finally:
        embedded.start_redis(settings.DATA_DIR)
    assert response.status_code == 503
    assert any(r.startswith("broker:") for r in response.json()["reasons"])


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_router_reads_rollups_from_the_replica_and_writes_to_the_primary():
    """Two aliases on one server: 'replica' is a second connection to the same database."""
    with override_settings(DATABASE_ROUTERS=["config.db_router.ReplicaRouter"]):
        router = ReplicaRouter()
        assert router.db_for_read(UsageDaily) == "replica"
        assert router.db_for_write(UsageDaily) == "default"
        assert router.db_for_read(InboxBatch) == "default"  # ingest reads its own writes
        with (
            CaptureQueriesContext(connections["default"]) as primary,
            CaptureQueriesContext(connections["replica"]) as replica,
        ):
            with transaction.atomic():  # the writes on this thread's connections, to capture them
                import_events(EventFactory.build_batch(3))
            ranking = selectors.ranking("model", selectors.period_window("week"))
        assert ranking.rows[0].value > 0  # the replica connection sees the committed rows
        assert any("INSERT INTO ingest_rawevent" in q["sql"] for q in primary.captured_queries)
        assert not any("INSERT" in q["sql"] for q in replica.captured_queries)
        assert any("rankings_usage" in q["sql"] for q in replica.captured_queries)
        assert not any(q["sql"].startswith("WITH cur AS") for q in primary.captured_queries)


@pytest.mark.django_db
def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_json_log_lines_carry_context():
    import json
    import logging

    from config.logging import JsonFormatter

    record = logging.makeLogRecord({"msg": "batch %s done", "args": (7,), "batch_id": 7, "request_id": "r1"})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "batch 7 done" and line["batch_id"] == 7 and line["request_id"] == "r1"


def test_a_worker_imports_no_web_framework():
    """The task modules a Celery worker loads leave out Django REST framework's renderers and
    what they bring (requests, pygments): about 9 MB in each of the worker's processes, counted
    again in every pool process (docs/operations.md, worker memory)."""
    script = (
        "import sys, django; from django.apps import apps; from importlib import import_module;"
        "from importlib.util import find_spec; django.setup();"
        "[import_module(f'{a.name}.tasks') for a in apps.get_app_configs() if find_spec(f'{a.name}.tasks')];"
        "print(sorted(m for m in ('rest_framework.renderers', 'requests', 'pygments') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=django_settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
