"""The admin's shared actions: switching a flag on and off, confirming review, and merging
selected apps or models into one (on a confirmation page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from ingest.rollups.maintain import MergeMismatch
from rankings.models import App


def counted(count: int, opts) -> str:
    """``count`` entries of a model, its verbose name singular or plural ("1 app", "2 apps")."""
    return f"{count} {opts.verbose_name if count == 1 else opts.verbose_name_plural}"


def switch_actions(apply: str, on: tuple[str, str], off: tuple[str, str]) -> tuple[Callable, Callable]:
    """The two actions that turn one flag of the selected rows on and off: each a (name,
    description), both calling the admin's ``apply(request, queryset, value)``."""

    def action(name: str, description: str, value: bool) -> Callable:
        def run(modeladmin, request, queryset):
            getattr(modeladmin, apply)(request, queryset, value)

        run.__name__ = run.__qualname__ = name
        return admin.action(description=description, permissions=["change"])(run)

    return action(*on, True), action(*off, False)


@admin.action(description="Confirm: reviewed by staff", permissions=["change"])
def confirm_reviewed(modeladmin, request, queryset):
    updated = queryset.update(needs_review=False)
    modeladmin.message_user(request, f"{updated} confirmed.")


class MergeForm(forms.Form):
    target = forms.ModelChoiceField(queryset=App.objects.none(), label="Merge into")

    def __init__(self, *args, choices=None, label: Callable[[Any], str] = str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = choices
        self.fields["target"].label_from_instance = label  # apps of one title: with their origins


class MergeActionMixin:
    """The "Merge selected … into one" action: pick the survivor on a confirmation page; the
    service moves history and aliases and checks that totals are unchanged."""

    merge_service = None  # staticmethod(merge_apps) or staticmethod(merge_models)
    merge_note = ""

    @admin.action(description="Merge selected %(verbose_name_plural)s into one…", permissions=["change"])
    def merge(self, request: HttpRequest, queryset):
        plural = self.model._meta.verbose_name_plural
        if queryset.count() < 2:
            self.message_user(request, f"Select at least two {plural} to merge.", messages.WARNING)
            return None
        form = MergeForm(
            request.POST if "target" in request.POST else None, choices=queryset, label=self.merge_label
        )
        if form.is_valid():
            target = form.cleaned_data["target"]
            others = [obj for obj in queryset if obj.pk != target.pk]
            names = ", ".join(self.merge_label(obj) for obj in others)
            try:
                merged = self.merge_service(target, others)
            except MergeMismatch as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            self.log_change(request, target, f"Merged {names} into this {self.model._meta.verbose_name}.")
            self.merged_message(request, target, others, merged)
            return HttpResponseRedirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Merge {plural}",
            "objects": [(obj.pk, self.merge_label(obj)) for obj in queryset],
            "note": self.merge_note,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
            "changelist_url": reverse(
                f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist"
            ),
        }
        return TemplateResponse(request, "admin/rankings/merge.html", context)

    def merged_message(self, request: HttpRequest, target, others: list, merged: int) -> None:
        """Says what a merge did, and plainly when a private survivor took public usage off
        public pages."""
        label, their = self.merge_label(target), "its" if merged == 1 else "their"
        text = f"Merged {counted(merged, self.model._meta)} into {label}; {their} usage now counts for it."
        if getattr(target, "is_public", True) or not any(other.is_public for other in others):
            self.message_user(request, text)
        else:
            text += f" {label} is private: {their} usage no longer shows publicly."
            self.message_user(request, text, messages.WARNING)

    def merge_label(self, obj) -> str:
        return str(obj)
