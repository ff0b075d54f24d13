"""Every accepted event counted exactly once: real HTTP, real Redis, real Celery workers."""

from __future__ import annotations

import json
import os
import random
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import OperationalError

from config import embedded, memory
from ingest import maintenance, processing, services, tasks
from ingest.models import InboxBatch
from tests.conftest import _test_database_url, wait_for
from tests.factories import EventFactory, both_grains_equal, expected_totals, post_events


def send(base_url: str, key: str, events: list[dict]) -> dict:
    request = urllib.request.Request(
        f"{base_url}/api/v1/events",
        data=json.dumps(events).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (live_server)
        assert response.status == 202
        return json.loads(response.read())


def all_batches_done() -> bool:
    return not InboxBatch.objects.exclude(status="done").exists()


def assert_counted_once(events: list[dict]) -> None:
    wait_for(all_batches_done, timeout=120)
    expected = expected_totals(events)
    wait_for(lambda: both_grains_equal(expected), timeout=10)
    since, mismatches = maintenance.verify_rollups()
    assert mismatches == []


def accepted_by_four_clients(url: str, key: str, events: list[dict], chunk: int) -> int:
    """Events accepted when four clients at once send all of ``events``, each in its own order,
    ``chunk`` a request."""

    def client(seed: int) -> int:
        order = events[:]
        random.Random(seed).shuffle(order)
        return sum(send(url, key, order[i : i + chunk])["accepted"] for i in range(0, len(order), chunk))

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(client, range(4)))


@pytest.mark.worker
def test_resends_overlaps_and_four_concurrent_clients(live_server, worker, ingest_key):
    _, key = ingest_key
    events = EventFactory.build_batch(600)
    # Sent twice, and in overlapping batches.
    send(live_server.url, key, events[:400])
    send(live_server.url, key, events[300:])
    send(live_server.url, key, events)

    # Four clients at once, each sending everything in its own order and chunking: every id
    # was already accepted above.
    assert accepted_by_four_clients(live_server.url, key, events, 150) == 0
    assert_counted_once(events)


@pytest.mark.worker
def test_concurrent_http_clients_racing_for_the_same_new_ids(live_server, worker, ingest_key):
    _, key = ingest_key
    events = EventFactory.build_batch(800)
    # each id accepted by exactly one of the racing requests
    assert accepted_by_four_clients(live_server.url, key, events, 100) == 800
    assert_counted_once(events)


@pytest.mark.worker
def test_two_workers_adding_to_the_same_rollup_rows(client, start_worker, ingest_key):
    _, key = ingest_key
    start_worker(concurrency=2, name="a")
    start_worker(concurrency=2, name="b")
    created_at = EventFactory.build()["created_at"]  # one hour bucket: every batch hits the same rows
    events = EventFactory.build_batch(6000, created_at=created_at)
    for i in range(0, len(events), 300):
        assert post_events(client, key, events[i : i + 300]).status_code == 202
    assert_counted_once(events)
    assert InboxBatch.objects.filter(status="done").count() == 20


@pytest.mark.worker
def test_worker_killed_mid_batch_loses_and_doubles_nothing(client, start_worker, ingest_key, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "SWEEP_AFTER_SECONDS": 0}
    _, key = ingest_key
    events = EventFactory.build_batch(20_000)
    for i in range(0, len(events), 5000):  # queued before any worker runs
        assert post_events(client, key, events[i : i + 5000]).status_code == 202

    victim = start_worker(concurrency=1, name="victim")
    in_flight = wait_for(
        lambda: InboxBatch.objects.filter(status="pending", attempts=1).values_list("pk", flat=True).first(),
        timeout=60,
        interval=0.005,
    )
    victim.kill()  # SIGKILL, mid-transaction: PostgreSQL rolls the batch back
    assert InboxBatch.objects.get(pk=in_flight).status == "pending"

    start_worker(concurrency=1, name="rescuer")
    assert tasks.sweep_pending() >= 1  # what beat does every few seconds
    assert_counted_once(events)
    assert InboxBatch.objects.get(pk=in_flight).attempts >= 2


@pytest.mark.worker
@pytest.mark.skipif(not django_settings.EMBEDDED_REDIS, reason="stops the broker: needs the embedded one")
def test_broker_down_while_batches_are_accepted(client, start_worker, ingest_key, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "SWEEP_AFTER_SECONDS": 0}
    _, key = ingest_key
    events = EventFactory.build_batch(1500)
    embedded.stop_redis(settings.DATA_DIR)
    try:
        for i in range(0, len(events), 500):
            response = post_events(client, key, events[i : i + 500])
            assert response.status_code == 202  # durable in PostgreSQL, broker or not
    finally:
        embedded.start_redis(settings.DATA_DIR)  # the broker comes back (same data dir)
    assert InboxBatch.objects.filter(status="pending").count() == 3
    start_worker(concurrency=2)
    assert tasks.sweep_pending() == 3
    assert_counted_once(events)


@pytest.mark.worker
@pytest.mark.skipif(not django_settings.EMBEDDED_REDIS, reason="freezes the broker: needs the embedded one")
def test_hung_broker_neither_hangs_ingest_nor_health_and_loses_nothing(
    client, start_worker, ingest_key, settings
):
    """A Redis that accepts connections but no longer answers (SIGSTOP): ingest answers 202
    within the broker's socket timeouts, /healthz answers 503, and the batch lands later."""
    settings.TOKENRANK = {**settings.TOKENRANK, "SWEEP_AFTER_SECONDS": 0}
    _, key = ingest_key
    events = EventFactory.build_batch(200)
    pid = int((settings.DATA_DIR / "redis" / "redis.pid").read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert post_events(client, key, events).status_code == 202
        accepted_in = time.monotonic() - started
        started = time.monotonic()
        health = client.get("/healthz")
        health_in = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert accepted_in < 15 and health_in < 15, (accepted_in, health_in)
    assert health.status_code == 503 and "broker" in health.json()["reasons"][0]
    start_worker(concurrency=1)
    tasks.sweep_pending()
    assert_counted_once(events)


def test_a_backlog_is_taken_in_one_pass_and_each_batch_counted_once(db, settings):
    """Coalescing: a worker takes waiting batches along (up to BATCH_COALESCE_EVENTS), never
    one that failed before, and each batch is still done exactly once."""
    from ingest.models import RawEvent

    settings.TOKENRANK = {**settings.TOKENRANK, "BATCH_COALESCE_EVENTS": 250}
    events = EventFactory.build_batch(500)
    batches = [services.accept_events(events[i : i + 100], None).batch_id for i in range(0, 500, 100)]
    InboxBatch.objects.filter(pk=batches[1]).update(attempts=1)  # tried before: goes alone

    assert processing.process_batch(batches[0]) == "done"  # takes batch 2 along; 3 would pass 250
    assert set(InboxBatch.objects.filter(status="done").values_list("pk", flat=True)) == {
        batches[0],
        batches[2],
    }
    assert processing.process_batch(batches[2]) == "skipped"  # its own task finds it done
    assert processing.process_batch(batches[1]) == "done"  # alone
    assert InboxBatch.objects.filter(status="done").count() == 3
    assert processing.process_batch(batches[3]) == "done"  # with batch 4
    assert not InboxBatch.objects.exclude(status="done").exists()
    assert both_grains_equal(expected_totals(events))
    for batch_id in batches:  # raw events keep the batch they came in
        assert RawEvent.objects.filter(batch_id=batch_id).count() == 100


@pytest.mark.django_db(transaction=True)
def test_a_batch_another_worker_holds_is_skipped_at_once_not_waited_for():
    """Its row is locked while another worker writes it in its set: its own task moves on
    rather than idle for that whole write; once the lock is gone, it is counted."""
    from django.db import connection

    events = EventFactory.build_batch(20)
    batch_id = services.accept_events(events, None).batch_id
    with psycopg.connect(_test_database_url()) as holder:
        holder.execute("SELECT 1 FROM ingest_inboxbatch WHERE id = %s FOR UPDATE", [batch_id])
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '5s'")  # waiting would fail the test, not hang it
        assert processing.process_batch(batch_id) == "skipped"
        assert InboxBatch.objects.get(pk=batch_id).attempts == 0
        holder.rollback()  # the other worker's write did not commit: the sweep's task counts it
    assert processing.process_batch(batch_id) == "done"
    assert_counted_once(events)


@pytest.mark.worker
def test_a_lost_connection_is_retried_by_celery_and_counted_once(client, start_worker, ingest_key):
    """A transient error (the worker's database connection killed while its write waits for a
    rollup table) is retried by Celery's own backoff, and the batch is counted once."""
    _, key = ingest_key
    events = EventFactory.build_batch(50)
    assert post_events(client, key, events).status_code == 202  # queued before any worker runs
    with (
        psycopg.connect(_test_database_url()) as holder,
        psycopg.connect(_test_database_url(), autocommit=True) as admin,
    ):
        holder.execute("LOCK TABLE rankings_usagedaily IN SHARE MODE")  # the write waits for it
        worker = start_worker(concurrency=1)
        waiting = wait_for(
            lambda: admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH inserted%'"
            ).fetchone(),
            timeout=60,
        )
        admin.execute("SELECT pg_terminate_backend(%s)", waiting)
        holder.rollback()
    assert_counted_once(events)
    assert "Retry in" in worker.log_path.read_text()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "tries"),
    [
        (OperationalError("deadlock detected"), tasks.process_batch.max_retries + 1),
        (ValueError("not about the connection"), 1),
    ],
)
def test_a_batch_the_task_gives_up_on_is_dead_lettered_with_the_reason(monkeypatch, error, tries):
    """Transient errors are retried up to max_retries, others not at all; then the batch is
    failed with its reason (kept for a human to retry or discard)."""
    batch_id = services.accept_events(EventFactory.build_batch(3), None).batch_id
    calls = []

    def failing(pk: int) -> str:
        calls.append(pk)
        raise error

    monkeypatch.setattr(processing, "process_batch", failing)
    tasks.process_batch.apply((batch_id,))  # eagerly, retries included
    assert calls == [batch_id] * tries
    batch = InboxBatch.objects.get(pk=batch_id)
    assert batch.status == "failed" and batch.last_error == f"{error.__class__.__name__}: {error}"


def test_the_task_trims_the_heap_after_a_set_it_counted(db, monkeypatch):
    """The worker gives the memory a counted set freed back to the system (glibc keeps it
    otherwise): after a batch it did, not after one another worker had done."""
    trims = []
    monkeypatch.setattr(tasks, "trim_heap", lambda: trims.append(1))
    batch = services.accept_events(EventFactory.build_batch(3), None).batch_id
    assert tasks.process_batch(batch) == "done"
    assert tasks.process_batch(batch) == "skipped"
    assert trims == [1]
    monkeypatch.undo()
    tasks.trim_heap()  # the real call (glibc's here and in the image; nothing elsewhere)


def test_the_task_counts_with_the_cycle_collector_off_and_turns_it_back_on(db, monkeypatch):
    """A batch's live event dicts and rows would be walked by every collection while it is
    counted (a fifth of the worker's Python CPU): the collector is off for the batch, back
    on after it, even when counting fails; a collector someone else turned off stays off."""
    import gc

    seen = []
    count = processing.process_batch

    def counting(batch_id: int) -> str:
        seen.append(gc.isenabled())
        return count(batch_id)

    monkeypatch.setattr(processing, "process_batch", counting)
    batch = services.accept_events(EventFactory.build_batch(3), None).batch_id
    assert gc.isenabled()
    assert tasks.process_batch(batch) == "done"
    assert seen == [False] and gc.isenabled()
    monkeypatch.setattr(processing, "process_batch", lambda batch_id: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tasks.process_batch(batch)
    assert gc.isenabled()
    gc.disable()  # paused by someone else (a report in another thread): left paused
    try:
        with memory.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
