"""The backoffice: every page loads for both roles, analysts cannot change, and staff fixes
(merge, hide, revoke, retry, rebuild) reach the public numbers."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db.models import Sum
from django.urls import reverse

from ingest.maintenance import verify_rollups
from ingest.models import InboxBatch, IngestKey, MaintenanceJob, UsageDaily
from ingest.services import import_events
from rankings.models import App, LLMModel, ModelAlias
from tests.conftest import assert_absent, wait_for
from tests.factories import EventFactory, post_events, rollup_totals


def staff(role: str) -> User:
    user = User.objects.create_user(role, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def data(db):
    import_events(EventFactory.build_batch(5, origin="https://one.example", app_name="One"))
    import_events(EventFactory.build_batch(3, origin="https://two.example", app_name="Two"))
    IngestKey.issue("gw")
    return App.objects.get(origin="https://one.example"), App.objects.get(origin="https://two.example")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "analyst"])
def test_every_admin_page_loads_for_both_roles(client, data, role):
    client.force_login(staff(role))
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:ingest_health")).status_code == 200
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("rankings", "ingest"):
            continue
        opts = model._meta
        changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
        obj = model.objects.first()
        if obj is not None:
            change = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert change.status_code == 200, opts.label
        add = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        can_add = role == "operator" and model_admin.has_add_permission(
            type("R", (), {"user": User(is_superuser=True)})()
        )
        assert add.status_code == (200 if can_add else 403), opts.label


@pytest.mark.django_db
def test_inbox_lists_leave_the_events_unread_and_the_batch_page_shows_them(client, ingest_key):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ingest.services import accept_events

    batch_id = accept_events(EventFactory.build_batch(3, app_name="Listed App"), ingest_key[0]).batch_id
    InboxBatch.objects.filter(pk=batch_id).update(status="failed", last_error="boom")
    client.force_login(staff("operator"))
    for url in (reverse("admin:ingest_inboxbatch_changelist"), reverse("admin:ingest_health")):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert not any('"ingest_inboxbatch"."events"' in q["sql"] for q in queries.captured_queries), url
    page = client.get(reverse("admin:ingest_inboxbatch_change", args=[batch_id])).content.decode()
    assert "Listed App" in page


@pytest.mark.django_db
def test_analyst_cannot_change(client, data):
    client.force_login(staff("analyst"))
    app, _ = data
    url = reverse("admin:rankings_app_change", args=[app.pk])
    assert client.post(url, {"name": "Renamed"}).status_code == 403
    response = client.post(
        reverse("admin:rankings_app_changelist"), {"action": "make_private", "_selected_action": [app.pk]}
    )
    assert response.status_code in (200, 302, 403)
    assert App.objects.get(pk=app.pk).is_public
    assert (
        client.post(
            reverse("admin:ingest_health"), {"kind": "rebuild", "since": "2025-01-01", "until": "2025-01-02"}
        ).status_code
        == 403
    )
    assert not MaintenanceJob.objects.exists()


@pytest.mark.django_db
def test_merging_two_apps_moves_their_tokens_and_keeps_totals(
    client, data, django_capture_on_commit_callbacks
):
    one, two = data
    before = rollup_totals()
    expected = sum(
        r.prompt_tokens + r.completion_tokens for r in UsageDaily.objects.filter(app__in=[one, two])
    )
    client.force_login(staff("operator"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:rankings_app_changelist"),
            {"action": "merge", "_selected_action": [one.pk, two.pk], "target": one.pk},
        )
    assert response.status_code == 302
    assert not App.objects.filter(pk=two.pk).exists()
    assert set(one.origins.values_list("origin", flat=True)) == {"https://one.example", "https://two.example"}
    assert rollup_totals() == before
    rows = client.get("/api/v1/rankings/apps").json()["results"]
    assert [(r["entity"]["slug"], r["value"]) for r in rows] == [(one.slug, expected)]
    from ingest.maintenance import verify_rollups

    assert verify_rollups()[1] == []
    # New events from the merged origin count for the surviving app.
    import_events([EventFactory.build(origin="https://two.example")])
    assert (
        UsageDaily.objects.filter(app=one).count() >= 1
        and not UsageDaily.objects.filter(app_id=two.pk).exists()
    )


@pytest.mark.django_db
def test_the_merge_choice_names_each_app_with_its_origin(client, data):
    """Apps of one title look alike in the "Merge into" list unless it says their origins."""
    one, two = data
    App.objects.filter(pk__in=[one.pk, two.pk]).update(name="Kilo Code")
    client.force_login(staff("operator"))
    page = client.post(
        reverse("admin:rankings_app_changelist"), {"action": "merge", "_selected_action": [one.pk, two.pk]}
    ).content.decode()
    assert f'<option value="{one.pk}">Kilo Code (https://one.example)</option>' in page
    assert f'<option value="{two.pk}">Kilo Code (https://two.example)</option>' in page


@pytest.mark.django_db
def test_hiding_an_app_removes_it_everywhere(client, data, django_capture_on_commit_callbacks):
    one, _ = data
    client.force_login(staff("operator"))
    client.post(
        reverse("admin:rankings_app_changelist"), {"action": "make_private", "_selected_action": [one.pk]}
    )
    client.logout()
    assert client.get(f"/apps/{one.slug}/").status_code == 404
    assert client.get(f"/api/v1/apps/{one.slug}").status_code == 404
    pages = (
        "/",
        "/?app_period=day",
        "/models/anthropic/claude-sonnet-4/",
        "/api/v1/rankings/apps",
        "/api/v1/rankings/apps?format=csv",
        "/api/v1/trending/apps",
        "/api/v1/models/anthropic/claude-sonnet-4",
        "/growth/",
        "/api/v1/growth",
    )
    assert_absent(client, pages, '"One"', ">One<", one.slug)


@pytest.mark.django_db
def test_key_revoked_in_admin_is_refused_at_once(client, db):
    key, plaintext = IngestKey.issue("gateway")
    assert post_events(client, plaintext, [EventFactory.build()]).status_code == 202
    client.force_login(staff("operator"))
    client.post(
        reverse("admin:ingest_ingestkey_changelist"), {"action": "revoke_keys", "_selected_action": [key.pk]}
    )
    client.logout()
    assert post_events(client, plaintext, [EventFactory.build()]).status_code == 403


@pytest.mark.django_db
def test_key_created_in_admin_is_shown_once_and_stored_hashed(client, db):
    client.force_login(staff("operator"))
    response = client.post(
        reverse("admin:ingest_ingestkey_add"),
        {"name": "new-gw", "owner": "ops", "rate_limit_per_minute": 5},
        follow=True,
    )
    text = next(str(m) for m in response.context["messages"] if "trk_" in str(m))
    plaintext = text[text.index("trk_") :].split()[0]
    key = IngestKey.objects.get(name="new-gw")
    assert key.key_hash != plaintext and plaintext not in key.key_hash and key.rate_limit_per_minute == 5
    client.logout()
    assert post_events(client, plaintext, [EventFactory.build()]).status_code == 202


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_retrying_a_failed_batch_from_the_health_page_counts_it_once(client, start_worker, settings):
    _, plaintext = IngestKey.issue("gw")
    events = EventFactory.build_batch(10)
    post_events(client, plaintext, events)
    batch = InboxBatch.objects.get()
    # As if workers had died on it until they gave up.
    InboxBatch.objects.filter(pk=batch.pk).update(attempts=settings.TOKENRANK["BATCH_MAX_ATTEMPTS"])
    start_worker()
    from ingest.tasks import enqueue_batch

    enqueue_batch(batch.pk)
    wait_for(lambda: InboxBatch.objects.get(pk=batch.pk).status == "failed")
    client.force_login(User.objects.create_superuser("root", password="x"))
    page = client.get(reverse("admin:ingest_health")).content.decode()
    assert "gave up" in page and str(batch.pk) in page
    client.post(reverse("admin:ingest_batch_action", args=[batch.pk, "retry"]))
    wait_for(lambda: InboxBatch.objects.get(pk=batch.pk).status == "done")
    client.post(reverse("admin:ingest_batch_action", args=[batch.pk, "retry"]))  # a second click does nothing
    assert rollup_totals()["requests"] == 10


@pytest.mark.django_db(transaction=True)
def test_dead_letter_fixed_and_requeued_in_the_admin_counts_once(client):
    from ingest import processing
    from ingest.models import DeadLetter

    _, plaintext = IngestKey.issue("gw")
    events = EventFactory.build_batch(5)
    post_events(client, plaintext, events)
    batch = InboxBatch.objects.get()
    stored = batch.events
    stored[2] = {**stored[2], "variant": "v" * 40}  # a value the write refuses
    InboxBatch.objects.filter(pk=batch.pk).update(events=stored)
    processing.process_batch(batch.pk)
    letter = DeadLetter.objects.get()
    assert rollup_totals()["requests"] == 4

    # A superuser: the flush between committed tests empties the staff groups.
    client.force_login(User.objects.create_superuser("root", password="x"))
    health = client.get(reverse("admin:ingest_health")).content.decode()
    assert "Dead letters" in health
    listing = client.get(reverse("admin:ingest_deadletter_changelist")).content.decode()
    assert letter.event_id in listing and "DataError" in listing
    change = reverse("admin:ingest_deadletter_change", args=[letter.pk])
    assert client.post(change, {"event": "not json"}).status_code == 200  # refused with the form's error
    fixed = {**stored[2], "variant": ""}
    assert client.post(change, {"event": json.dumps(fixed)}).status_code == 302
    client.post(
        reverse("admin:ingest_deadletter_changelist"),
        {"action": "requeue", "_selected_action": [letter.pk]},
    )
    processing.process_batch(InboxBatch.objects.latest("pk").pk)
    client.post(
        reverse("admin:ingest_deadletter_changelist"),
        {"action": "requeue", "_selected_action": [letter.pk]},
    )  # a second requeue does nothing
    assert rollup_totals()["requests"] == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_rebuild_and_verify_jobs_run_on_a_worker_with_progress(client, start_worker):
    from datetime import UTC, datetime

    from ingest.rollups.grains import GRAINS

    import_events(EventFactory.build_batch(20))
    start_worker()
    client.force_login(User.objects.create_superuser("root", password="x"))
    today = datetime.now(UTC).date().isoformat()
    client.post(reverse("admin:ingest_health"), {"kind": "rebuild", "since": today, "until": today})
    job = wait_for(lambda: MaintenanceJob.objects.filter(status="done").first())
    assert job.percent() == 100 and "Rebuilt" in job.result
    assert rollup_totals()["requests"] == 20
    client.post(reverse("admin:ingest_health"), {"kind": "verify", "since": today, "until": today})
    wait_for(lambda: MaintenanceJob.objects.filter(kind="verify", status="done").exists())
    verified = MaintenanceJob.objects.get(kind="verify")
    assert "match" in verified.result
    assert verified.progress_done == verified.progress_total == len(GRAINS) > 1  # tables checked, not "1/1"
    jobs = client.get(reverse("admin:ingest_jobs")).content.decode()
    assert f"{len(GRAINS)}/{len(GRAINS)} tables" in jobs and "1/1 days" in jobs


@pytest.mark.django_db
def test_price_change_warns_and_recompute_action_queues_a_job(client, data):
    from rankings.models import LLMModel

    client.force_login(staff("operator"))
    model = LLMModel.objects.get(slug="anthropic/claude-sonnet-4")
    change_url = reverse("admin:rankings_llmmodel_change", args=[model.pk])
    form = client.get(change_url).context["adminform"].form
    payload = {k: v for k, v in form.initial.items() if v is not None}
    payload.update({"prompt_price": "1.5", "author": model.author_id, "release_date": "2025-05-22"})
    response = client.post(change_url, payload, follow=True)
    assert any("Recompute derived costs" in str(m) for m in response.context["messages"])
    response = client.post(
        reverse("admin:rankings_llmmodel_changelist"),
        {
            "action": "recompute_costs",
            "_selected_action": [model.pk],
            "since": "2026-01-01",
            "until": "2026-01-31",
        },
    )
    assert response.status_code == 302
    job = MaintenanceJob.objects.get()
    assert (job.kind, job.target) == ("recost", model.slug)


@pytest.mark.django_db
def test_models_merge_in_the_admin_like_apps(client, django_capture_on_commit_callbacks):
    import_events(EventFactory.build_batch(4, model="openai/gpt-4o-mini"))
    import_events(EventFactory.build_batch(3, model="openai/gpt-4o-mini-snapshot"))  # not a date
    target = LLMModel.objects.get(slug="openai/gpt-4o-mini")
    stray = LLMModel.objects.get(slug="openai/gpt-4o-mini-snapshot")
    before = rollup_totals()
    client.force_login(staff("operator"))
    changelist = reverse("admin:rankings_llmmodel_changelist")
    page = client.post(changelist, {"action": "merge", "_selected_action": [target.pk, stray.pk]})
    assert page.status_code == 200 and b"Merge into" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist, {"action": "merge", "_selected_action": [target.pk, stray.pk], "target": target.pk}
        )
    assert response.status_code == 302
    assert not LLMModel.objects.filter(pk=stray.pk).exists()
    assert ModelAlias.objects.get(slug="openai/gpt-4o-mini-snapshot").model == target
    assert rollup_totals() == before
    assert verify_rollups()[1] == []
    rows = client.get("/api/v1/rankings/models?period=week").json()["results"]
    assert [r["entity"]["slug"] for r in rows] == ["openai/gpt-4o-mini"]
    # Later events under the merged slug count for the survivor.
    import_events([EventFactory.build(model="openai/gpt-4o-mini-snapshot")])
    assert UsageDaily.objects.filter(model=target).aggregate(n=Sum("requests"))["n"] == 8
    assert not LLMModel.objects.filter(slug="openai/gpt-4o-mini-snapshot").exists()


@pytest.mark.django_db
def test_operator_ranks_a_tag_key_and_its_values_count(client, monkeypatch):
    from ingest import extras
    from rankings.models import TagKey

    client.force_login(staff("operator"))
    response = client.post(
        reverse("admin:rankings_tagkey_add"),
        {"key": "team", "name": "Team", "ranked": "on", "max_values": "2", "position": "5",
         "values-TOTAL_FORMS": "0", "values-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    monkeypatch.setattr(extras, "_ranked", (float("-inf"), frozenset()))  # as after the TTL
    import_events([EventFactory.build(tags={"team": t}) for t in ("search", "ads", "infra")])
    key = TagKey.objects.get(key="team")
    kept = set(key.values.values_list("value", flat=True))
    assert len(kept) == 3 and "other" in kept and kept < {"search", "ads", "infra", "other"}
    client.force_login(staff("analyst"))
    assert client.post(reverse("admin:rankings_tagkey_change", args=[key.pk]), {}).status_code == 403


@pytest.mark.django_db
def test_apps_of_one_title_are_flagged_as_likely_aliases_and_merged_in_one_click(client):
    import_events(EventFactory.build_batch(4, origin="https://kilocode.ai", app_name="Kilo Code"))
    import_events(EventFactory.build_batch(3, origin="https://app.kilocode.ai", app_name="Kilo  code "))
    import_events(EventFactory.build_batch(2, origin="https://other.example", app_name="<b>Other</b>"))
    first = App.objects.get(origin="https://kilocode.ai")
    before = rollup_totals()
    changelist = reverse("admin:rankings_app_changelist")
    client.force_login(staff("analyst"))
    assert client.post(reverse("admin:rankings_app_merge_same_title"), {"title": "kilo code"}).status_code == 403
    client.force_login(staff("operator"))
    page = client.get(changelist).content.decode()
    assert page.count("Merge the 2 apps named") == 2 and 'form="merge-same-title"' in page
    assert "<b>Other</b>" not in page  # names are escaped
    flagged = client.get(changelist, {"alias": "yes"}).content.decode()
    assert "kilocode.ai" in flagged and "other.example" not in flagged
    assert client.get(reverse("admin:rankings_app_merge_same_title")).status_code == 405  # POST only
    response = client.post(reverse("admin:rankings_app_merge_same_title"), {"title": "kilo code"})
    assert response.status_code == 302
    assert list(App.objects.filter(name__icontains="kilo").values_list("pk", flat=True)) == [first.pk]
    assert set(first.origins.values_list("origin", flat=True)) == {"https://kilocode.ai", "https://app.kilocode.ai"}
    assert rollup_totals() == before and verify_rollups()[1] == []
    assert "Merge the 2 apps" not in client.get(changelist).content.decode()


def said(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.django_db
def test_the_one_click_merge_keeps_a_public_app_then_the_biggest(client):
    """The survivor is not simply the first seen: a private first-seen app would take a public
    app's usage off public pages, a small first-seen one would take a big one's name."""
    import_events(EventFactory.build_batch(1, origin="https://first.example", app_name="Roo"))
    import_events(EventFactory.build_batch(2, origin="https://second.example", app_name="Roo"))
    import_events(EventFactory.build_batch(6, origin="https://third.example", app_name="roo"))
    second, third = (App.objects.get(origin=f"https://{n}.example") for n in ("second", "third"))
    App.objects.filter(pk=third.pk).update(is_public=False)  # the biggest, but private
    client.force_login(staff("operator"))
    changelist = reverse("admin:rankings_app_changelist")
    response = client.post(reverse("admin:rankings_app_merge_same_title"), {"title": "roo"}, follow=True)
    assert list(App.objects.filter(name__iexact="roo").values_list("pk", flat=True)) == [second.pk]
    merged = "Merged 2 apps into Roo (https://second.example); their usage now counts for it."
    assert said(response) == [merged]
    assert client.get(changelist).status_code == 200
    # Both public: the one with the most tokens, though seen later.
    import_events(EventFactory.build_batch(1, origin="https://small.example", app_name="Cline"))
    import_events(EventFactory.build_batch(3, origin="https://big.example", app_name="Cline"))
    client.post(reverse("admin:rankings_app_merge_same_title"), {"title": "cline"})
    assert list(App.objects.filter(name="Cline").values_list("origin", flat=True)) == ["https://big.example"]


@pytest.mark.django_db
def test_merge_and_privacy_messages_count_in_words_and_say_when_usage_leaves_public_pages(client, data):
    one, two = data
    App.objects.filter(pk=one.pk).update(is_public=False)
    client.force_login(staff("operator"))
    changelist = reverse("admin:rankings_app_changelist")
    response = client.post(
        changelist, {"action": "merge", "_selected_action": [one.pk, two.pk], "target": one.pk}, follow=True
    )
    assert said(response) == [
        "Merged 1 app into One (https://one.example); its usage now counts for it. "
        "One (https://one.example) is private: its usage no longer shows publicly."
    ]
    response = client.post(changelist, {"action": "make_public", "_selected_action": [one.pk]}, follow=True)
    assert said(response) == ["1 app is now public."]
