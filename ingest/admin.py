"""Backoffice for ingest: keys, the inbox (dead letters included), health and maintenance."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import TruncMinute
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from ingest import services, tally
from ingest.auth import revoke
from ingest.events import as_record, normalize
from ingest.maintenance import RangeError, rollup_days
from ingest.models import DeadLetter, InboxBatch, IngestKey, MaintenanceJob
from rankings import charts
from rankings.admin_actions import switch_actions


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "prefix",
        "active",
        "is_test",
        "rate_limit_per_minute",
        "events_accepted",
        "last_used_at",
        "created_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "is_test"]
    search_fields = ["name", "owner", "prefix"]
    readonly_fields = ["prefix", "created_at", "revoked_at", "last_used_at", "events_accepted"]
    fields = ["name", "owner", "rate_limit_per_minute", "is_test", *readonly_fields]
    actions = ["revoke_keys", "mark_test", "mark_counted"]

    def get_readonly_fields(self, request, obj=None):
        # A new key is a test key or not from its first event; a used one changes through the
        # actions, which re-flag its events (ingest.services.set_test_key).
        return self.readonly_fields + (["is_test"] if obj else [])

    @admin.display(boolean=True)
    def active(self, obj: IngestKey) -> bool:
        return obj.is_active

    def save_model(self, request, obj: IngestKey, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, plaintext = IngestKey.issue(obj.name, obj.owner)
        key.rate_limit_per_minute, key.is_test = obj.rate_limit_per_minute, obj.is_test
        key.save(update_fields=["rate_limit_per_minute", "is_test"])
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"Ingest key {obj.name!r} created. Copy it now; it is not stored and will not be shown again: {plaintext}",
            messages.WARNING,
        )
        return None

    @admin.action(description="Revoke selected keys (refused at once)", permissions=["change"])
    def revoke_keys(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            revoke(key)
            self.log_change(request, key, "Revoked.")
        self.message_user(request, "Revoked.")

    mark_test, mark_counted = switch_actions(
        "_set_test",
        on=("mark_test", "Mark as test keys (their events leave every public number)"),
        off=("mark_counted", "Count their events again (not test keys)"),
    )

    def _set_test(self, request, queryset, test: bool) -> None:
        jobs = []
        for key in queryset:
            job = services.set_test_key(key, test, request.user.username)
            if job is not None:
                self.log_change(
                    request, key, "Marked as a test key." if test else "Counted again (not a test key)."
                )
                jobs.append(str(job.pk))
        self.message_user(request, key_flag_message(jobs))


def key_flag_message(jobs: list[str]) -> str:
    """What the test-key actions say: one sentence, singular or plural."""
    if not jobs:
        return "Nothing to change."
    if len(jobs) == 1:
        return (
            f"1 key changed: job {jobs[0]} re-flags its kept events and rebuilds those days "
            "(follow it on the ingest health page)."
        )
    return (
        f"{len(jobs)} keys changed: jobs {', '.join(jobs)} re-flag their kept events and rebuild those days "
        "(follow them on the ingest health page)."
    )


class JobForm(forms.Form):
    # The other kinds need a target and start from their own pages (models, ingest keys).
    kind = forms.ChoiceField(
        choices=[(k, label) for k, label in MaintenanceJob.Kind.choices if k in ("rebuild", "verify")]
    )
    since = forms.DateField(help_text="YYYY-MM-DD (UTC); raised to the oldest day whose raw events are kept")
    until = forms.DateField(help_text="YYYY-MM-DD (UTC), inclusive")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until"):
            try:  # the same checks as the rebuild_rollups / verify_rollups commands
                rollup_days(data["since"], data["until"])
            except RangeError as exc:
                raise forms.ValidationError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from exc
        return data


@admin.register(InboxBatch)
class InboxBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "source",
        "key",
        "event_count",
        "dead_letter_count",
        "attempts",
        "received_at",
        "processed_at",
        "short_error",
    ]
    list_filter = ["status", "source"]
    list_select_related = ["key"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboxBatch._meta.fields]
    actions = ["retry", "discard"]
    change_list_template = "admin/ingest/inboxbatch/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # batches are the audit trail; failed ones are discarded, not deleted

    def get_queryset(self, request):
        # A batch's events (up to 10,000 per request, more when coalesced) are read only on its
        # own page, where the deferred field loads on access; lists and actions skip them.
        return super().get_queryset(request).defer("events")

    @admin.display(description="error")
    def short_error(self, obj: InboxBatch) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry selected failed batches", permissions=["change"])
    def retry(self, request, queryset):
        retried = [b for b in queryset.filter(status="failed") if services.retry_batch(b.pk)]
        for batch in retried:
            self.log_change(request, batch, "Retried.")
        self.message_user(request, f"{len(retried)} batches queued again.")

    @admin.action(description="Discard selected failed batches (kept for the record)", permissions=["change"])
    def discard(self, request, queryset):
        discarded = [b for b in queryset.filter(status="failed") if services.discard_batch(b.pk)]
        for batch in discarded:
            self.log_change(
                request,
                batch,
                f"Discarded ({batch.event_count} events not counted): {batch.last_error[:200]}",
            )
        self.message_user(request, f"{len(discarded)} batches discarded.")

    def get_urls(self):
        return [
            path("health/", self._for_viewers(self.health_view), name="ingest_health"),
            path(
                "health/batch/<int:pk>/<str:action>/",
                self._for_viewers(self.batch_action),
                name="ingest_batch_action",
            ),
            path("health/jobs/", self._for_viewers(self.jobs_fragment), name="ingest_jobs"),
        ] + super().get_urls()

    def _for_viewers(self, view):
        """Staff may see ingest health only with a role that may view batches (analyst,
        operator): being staff alone is not enough."""

        def guarded(request: HttpRequest, *args, **kwargs):
            if not self.has_view_permission(request):
                raise PermissionDenied("Your role may not see ingest health.")
            return view(request, *args, **kwargs)

        return self.admin_site.admin_view(guarded)

    def health_view(self, request: HttpRequest):
        now = timezone.now()
        form = JobForm(
            request.POST or None, initial={"since": (now - timedelta(days=7)).date(), "until": now.date()}
        )
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied("Your role may not start maintenance jobs.")
            if form.is_valid():
                job = services.start_job(
                    form.cleaned_data["kind"],
                    form.cleaned_data["since"],
                    form.cleaned_data["until"],
                    request.user.username,
                )
                messages.success(request, f"Job {job.pk} queued.")
                return HttpResponseRedirect(reverse("admin:ingest_health"))
        windows = {}
        for label, since in (("last hour", now - timedelta(hours=1)), ("last day", now - timedelta(days=1))):
            windows[label] = InboxBatch.objects.filter(received_at__gte=since).aggregate(
                **{s: Count("pk", filter=Q(status=s)) for s in InboxBatch.Status.values},
                events=Sum("event_count"),
                dead_letters=Sum("dead_letter_count"),
            )
        oldest = InboxBatch.objects.filter(status="pending").aggregate(oldest=Min("received_at"))["oldest"]
        per_minute = (
            InboxBatch.objects.filter(received_at__gte=now - timedelta(hours=1))
            .annotate(minute=TruncMinute("received_at"))
            .values("minute")
            .annotate(events=Sum("event_count"))
            .order_by("minute")
        )
        figure = charts.grouped_bars(
            [row["minute"].strftime("%H:%M") for row in per_minute],
            {"events": [row["events"] for row in per_minute]},
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Ingest health",
            "opts": self.model._meta,
            "windows": windows,
            "sources": {
                label: tally.summary(since)
                for label, since in (
                    ("last hour", now - timedelta(hours=1)),
                    ("last day", now - timedelta(days=1)),
                )
            },
            "lag": (now - oldest).total_seconds() if oldest else None,
            "figure": figure,
            "failed": InboxBatch.objects.filter(status="failed")
            .defer("events")
            .select_related("key")
            .order_by("-received_at")[:50],
            "jobs": MaintenanceJob.objects.all()[:10],
            "form": form,
            "can_change": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/ingest/health.html", context)

    def jobs_fragment(self, request: HttpRequest):
        """The jobs table alone, polled by htmx while a job runs."""
        return TemplateResponse(
            request, "admin/ingest/health.html#jobs", {"jobs": MaintenanceJob.objects.all()[:10]}
        )

    def batch_action(self, request: HttpRequest, pk: int, action: str):
        batch = get_object_or_404(InboxBatch, pk=pk)
        if (
            request.method != "POST"
            or not self.has_change_permission(request, batch)
            or action not in ("retry", "discard")
        ):
            messages.error(request, "Not allowed.")
        elif action == "retry" and services.retry_batch(pk):
            self.log_change(request, batch, "Retried.")
            messages.success(request, f"Batch {pk} queued again.")
        elif action == "discard" and services.discard_batch(pk):
            self.log_change(
                request,
                batch,
                f"Discarded ({batch.event_count} events not counted): {batch.last_error[:200]}",
            )
            messages.success(request, f"Batch {pk} discarded; it stays on record.")
        return HttpResponseRedirect(reverse("admin:ingest_health"))


@admin.register(MaintenanceJob)
class MaintenanceJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "since",
        "until",
        "status",
        "percent",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in MaintenanceJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # started from the ingest health page


class DeadLetterForm(forms.ModelForm):
    class Meta:
        model = DeadLetter
        fields = ["event"]

    def clean_event(self) -> str:
        """The event stays a JSON object (normalized field names) and ASCII, as stored."""
        try:
            event = json.loads(self.cleaned_data["event"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(event, dict) or "id" not in event:
            raise forms.ValidationError("Must be a JSON object with the event's id.")
        _, errors = normalize(as_record(event), timezone.now())
        if errors:
            raise forms.ValidationError([f"{name}: {message}" for name, message in errors.items()])
        return json.dumps(event, ensure_ascii=True)


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """Events the worker could not write. Their batches were counted without them and their
    ids released: a corrected resend from the gateway counts, or fix the event here and
    requeue it (an id resent meanwhile is a duplicate, never counted twice)."""

    form = DeadLetterForm
    list_display = ["event_id", "batch", "short_error", "created_at", "requeued_at"]
    list_filter = [("requeued_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "error"]
    readonly_fields = ["batch", "event_id", "error", "created_at", "requeued_at"]
    fields = ["batch", "event_id", "error", "event", "created_at", "requeued_at"]
    actions = ["requeue"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="error")
    def short_error(self, obj: DeadLetter) -> str:
        return obj.error[:100]

    @admin.action(description="Requeue selected dead letters (once each)", permissions=["change"])
    def requeue(self, request, queryset):
        result = services.requeue_dead_letters(queryset)
        self.message_user(
            request, f"{result.accepted} requeued; {result.duplicates} already counted (resent meanwhile)."
        )
        for rejection in result.rejected:
            problems = "; ".join(f"{name}: {message}" for name, message in rejection.errors.items())
            self.message_user(request, f"{rejection.id} is still invalid ({problems}).", messages.ERROR)
