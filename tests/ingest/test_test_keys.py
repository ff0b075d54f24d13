"""Test keys: their events are accepted and kept, never counted in a public number, and
rebuild and verify agree; marking a used key (or unmarking it) moves its kept events out of
(or back into) every rollup, under a lock the worker respects."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.urls import reverse

from ingest import maintenance, processing, services
from ingest.models import InboxBatch, IngestKey, MaintenanceJob, RawEvent
from ingest.rollups import write
from rankings.models import App
from tests.factories import EventFactory, both_grains_equal, expected_totals, post_events, rollup_totals

committed = pytest.mark.django_db(transaction=True)


def send(client, plaintext: str, events: list[dict]) -> None:
    assert post_events(client, plaintext, events).status_code == 202
    processing.process_batch(InboxBatch.objects.latest("pk").pk)


@committed
def test_a_test_keys_events_are_kept_but_never_counted(client):
    _, live = IngestKey.issue("gateway")
    tester, test = IngestKey.issue("staging")
    IngestKey.objects.filter(pk=tester.pk).update(is_test=True)
    counted = EventFactory.build_batch(6)
    send(client, live, counted)
    send(client, test, EventFactory.build_batch(4, origin="https://staging.example", app_name="Staging"))
    assert RawEvent.objects.count() == 10 and RawEvent.objects.filter(is_test=True).count() == 4
    assert both_grains_equal(expected_totals(counted))
    assert maintenance.verify_rollups()[1] == []
    maintenance.rebuild_rollups()
    assert both_grains_equal(expected_totals(counted))
    body = client.get("/api/v1/rankings/apps?period=week").content.decode()
    assert "Staging" not in body
    assert client.get("/api/v1/growth").json()["requests"]["after"] == 6


@committed
def test_an_app_first_seen_in_a_test_keys_events_is_private(client):
    _, live = IngestKey.issue("gateway")
    tester, test = IngestKey.issue("staging")
    IngestKey.objects.filter(pk=tester.pk).update(is_test=True)
    send(client, test, EventFactory.build_batch(2, origin="https://leaky-staging.example", app_name="Leaky Staging"))
    send(client, live, EventFactory.build_batch(2, origin="https://live.example", app_name="Live App"))
    staging, known = App.objects.get(origin="https://leaky-staging.example"), App.objects.get(origin="https://live.example")
    assert (staging.is_public, known.is_public) == (False, True)
    assert client.get(f"/apps/{staging.slug}/").status_code == 404
    assert client.get(f"/apps/{known.slug}/").status_code == 200
    for url in ("/api/v1/search?q=leaky", "/api/v1/apps?q=leaky", "/apps/"):
        assert "Leaky Staging" not in client.get(url).content.decode(), url


@committed
def test_marking_a_used_key_takes_its_events_out_and_back(client):
    key, plaintext = IngestKey.issue("gateway")
    _, other = IngestKey.issue("other")
    mine, theirs = EventFactory.build_batch(5), EventFactory.build_batch(3)
    send(client, plaintext, mine)
    send(client, other, theirs)
    everything = rollup_totals()

    client.force_login(User.objects.create_superuser("root", password="x"))
    changelist = reverse("admin:ingest_ingestkey_changelist")
    client.post(changelist, {"action": "mark_test", "_selected_action": [key.pk]})
    job = MaintenanceJob.objects.get(kind="testkey", target="gateway")
    assert maintenance.run_job(job.pk) == "done", MaintenanceJob.objects.get(pk=job.pk).result
    assert both_grains_equal(expected_totals(theirs))
    assert maintenance.verify_rollups()[1] == []
    assert "5 events of key gateway now test" in MaintenanceJob.objects.get(pk=job.pk).result

    client.post(changelist, {"action": "mark_counted", "_selected_action": [key.pk]})
    again = MaintenanceJob.objects.filter(kind="testkey").latest("pk")
    assert maintenance.run_job(again.pk) == "done"
    assert rollup_totals() == everything
    assert maintenance.verify_rollups()[1] == []
    assert client.post(changelist, {"action": "mark_counted", "_selected_action": [key.pk]}).status_code == 302
    assert MaintenanceJob.objects.filter(kind="testkey").count() == 2  # already counted: no job


@pytest.mark.django_db
def test_a_new_key_can_be_a_test_key_from_the_start_and_then_only_through_the_actions(client):
    client.force_login(User.objects.create_superuser("root", password="x"))
    client.post(reverse("admin:ingest_ingestkey_add"), {"name": "ci", "owner": "", "is_test": "on"})
    key = IngestKey.objects.get(name="ci")
    assert key.is_test
    page = client.get(reverse("admin:ingest_ingestkey_change", args=[key.pk])).content.decode()
    assert 'name="is_test"' not in page  # read-only once it exists
    assert not MaintenanceJob.objects.exists()


@committed
def test_the_flag_cannot_change_while_a_batch_of_the_key_is_being_counted(client):
    """The worker reads a batch's key flag FOR KEY SHARE in its write transaction; marking the
    key waits for that transaction, so the batch is either counted before (and re-flagged by
    the job) or flagged as test: never counted after the key became a test key."""
    key, plaintext = IngestKey.issue("gateway")
    assert post_events(client, plaintext, EventFactory.build_batch(2)).status_code == 202
    batch = InboxBatch.objects.get().pk
    holding, release = threading.Event(), threading.Event()

    def worker_transaction():
        try:
            with transaction.atomic():
                write.flag_test_batches([batch])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=worker_transaction)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    threading.Timer(1.0, release.set).start()
    services.set_test_key(key, True)
    assert time.monotonic() - started >= 0.9  # waited for the worker's transaction
    thread.join()
    assert IngestKey.objects.get(pk=key.pk).is_test
