"""Backoffice for the catalog: what the public pages show, fixed by staff."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from ingest.rollups.maintain import MergeMismatch
from ingest.services import start_job
from rankings.admin_actions import MergeActionMixin, confirm_reviewed, counted, switch_actions
from rankings.cache import bump_generation
from rankings.models import (
    App,
    AppOrigin,
    AppSlugAlias,
    Author,
    Category,
    LLMModel,
    ModelAlias,
    Provider,
    TagKey,
    TagValue,
)
from rankings.selectors.entities import apps_titled, shared_titles, with_same_title
from rankings.services import keep_old_slugs, merge_apps, merge_models, merge_survivor, set_apps_public

admin.site.site_header = "Tokenrank backoffice"
admin.site.site_title = "Tokenrank"
admin.site.index_title = "Catalog, ingest and health"


class ReviewAdmin(admin.ModelAdmin):
    """Shared by every entity ingest can create on first sight."""

    actions = [confirm_reviewed]
    list_filter = ["needs_review"]
    search_fields = ["slug", "name"]
    readonly_fields = ["created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump_generation()  # names and flags show on public pages at once


@admin.register(Author)
class AuthorAdmin(ReviewAdmin):
    list_display = ["name", "slug", "model_count", "needs_review", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(model_count=Count("models"))

    @admin.display(description="models", ordering="model_count")
    def model_count(self, obj: Author):
        url = reverse("admin:rankings_llmmodel_changelist") + f"?author__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.model_count)


@admin.register(Provider)
class ProviderAdmin(ReviewAdmin):
    list_display = ["name", "slug", "needs_review", "created_at"]


@admin.register(Category)
class CategoryAdmin(ReviewAdmin):
    list_display = ["name", "slug", "position", "needs_review"]
    list_editable = ["position"]


@admin.register(LLMModel)
class LLMModelAdmin(MergeActionMixin, ReviewAdmin):
    list_display = [
        "slug",
        "name",
        "author_link",
        "prompt_price",
        "completion_price",
        "context_length",
        "supports_reasoning",
        "release_date",
        "needs_review",
    ]
    list_filter = ["needs_review", "supports_reasoning", "author"]
    list_select_related = ["author"]
    search_fields = ["slug", "name", "permaslug", "aliases__slug"]
    autocomplete_fields = ["author"]
    readonly_fields = ["created_at", "alias_list"]
    merge_service = staticmethod(merge_models)
    merge_note = (
        "The others' slugs (and their aliases) become aliases of the one you pick, so events sent "
        "under them count for it from now on and their pages and badges redirect to it, and their "
        "whole history moves to it in every ranking."
    )
    fieldsets = [
        (None, {"fields": ["slug", "name", "author", "permaslug", "alias_list", "needs_review"]}),
        ("Capabilities", {"fields": ["context_length", "supports_reasoning", "release_date"]}),
        (
            "Pricing ($ per 1M tokens)",
            {
                "fields": ["prompt_price", "completion_price"],
                "description": "Prices describe the model; counted costs come from the events' total_cost.",
            },
        ),
        ("Record", {"fields": ["created_at"]}),
    ]

    actions = ["merge", "recompute_costs", confirm_reviewed]

    def save_model(self, request, obj: LLMModel, form, change):
        super().save_model(request, obj, form, change)
        if change and "slug" in form.changed_data:  # its URLs and the events sent under it keep working
            keep_old_slugs("model", obj, [form.initial["slug"]])
        if change and {"prompt_price", "completion_price"} & set(form.changed_data):
            self.message_user(
                request,
                "Prices changed. Events that reported no cost were priced with the old prices: select "
                "this model and run “Recompute derived costs…” for the dates to re-price.",
                messages.WARNING,
            )

    @admin.action(description="Recompute derived costs…", permissions=["change"])
    def recompute_costs(self, request: HttpRequest, queryset):
        form = RecostForm(request.POST if "since" in request.POST else None)
        if form.is_valid():
            for model in queryset:
                job = start_job(
                    "recost",
                    form.cleaned_data["since"],
                    form.cleaned_data["until"],
                    request.user.username,
                    target=model.slug,
                )
                self.log_change(request, model, f"Queued cost recomputation (job {job.pk}).")
            self.message_user(request, "Queued; follow progress on the ingest health page.")
            return HttpResponseRedirect(reverse("admin:ingest_health"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Recompute derived costs",
            "models": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/rankings/llmmodel/recost.html", context)

    @admin.display(description="aliases")
    def alias_list(self, obj: LLMModel) -> str:
        """Slugs that count as this model (dated permaslugs, merged models); edited under Model aliases."""
        return ", ".join(obj.aliases.values_list("slug", flat=True)) or "—"

    @admin.display(description="author", ordering="author__name")
    def author_link(self, obj: LLMModel):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:rankings_author_change", args=[obj.author_id]),
            obj.author.name,
        )


class RecostForm(forms.Form):
    since = forms.DateField(help_text="YYYY-MM-DD (UTC); raw events are kept for the retention window only")
    until = forms.DateField(help_text="YYYY-MM-DD (UTC), inclusive")


class AppOriginInline(admin.TabularInline):
    model = AppOrigin
    extra = 0
    fields = ["origin", "created_at"]
    readonly_fields = ["created_at"]


class LikelyAliasFilter(admin.SimpleListFilter):
    title = "likely aliases"
    parameter_name = "alias"

    def lookups(self, request, model_admin):
        return [("yes", "Same title as another app")]

    def queryset(self, request, queryset):
        return queryset.filter(title_key__in=shared_titles()) if self.value() == "yes" else queryset


@admin.register(App)
class AppAdmin(MergeActionMixin, ReviewAdmin):
    list_display = [
        "name",
        "slug",
        "origin",
        "is_public",
        "origin_count",
        "likely_alias",
        "needs_review",
        "created_at",
    ]
    list_editable = ["is_public"]
    list_filter = [LikelyAliasFilter, "is_public", "needs_review", "categories"]
    change_list_template = "admin/rankings/app/change_list.html"
    search_fields = ["name", "slug", "origin", "origins__origin"]
    filter_horizontal = ["categories"]
    inlines = [AppOriginInline]
    actions = ["merge", "make_private", "make_public", confirm_reviewed]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "url", "categories"]}),
        ("Identity and visibility", {"fields": ["origin", "is_public", "needs_review", "created_at"]}),
    ]

    def get_queryset(self, request):
        return with_same_title(super().get_queryset(request).annotate(origin_count=Count("origins")))

    @admin.display(description="origins", ordering="origin_count")
    def origin_count(self, obj: App) -> int:
        return obj.origin_count

    @admin.display(description="likely alias", ordering="same_title")
    def likely_alias(self, obj: App):
        """Apps of the same title are most likely one product under several origins: a
        button merges them into one (the form is in the change list template)."""
        if obj.same_title < 2:
            return "—"
        return format_html(
            '<button type="submit" form="merge-same-title" name="title" value="{}" class="button">'
            "Merge the {} apps named “{}”</button>",
            obj.title_key,
            obj.same_title,
            obj.name,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.merge_same_title))
        return [path("merge-same-title/", view, name="rankings_app_merge_same_title"), *super().get_urls()]

    def merge_same_title(self, request: HttpRequest):
        """One click: every app of a title merged into one (:func:`merge_survivor`: a public one,
        then the biggest, then the first seen; history, origins and categories move; totals
        are checked unchanged)."""
        if not self.has_change_permission(request):
            raise PermissionDenied("Your role may not merge apps.")
        changelist = reverse("admin:rankings_app_changelist")
        apps = apps_titled(request.POST.get("title", ""))
        if len(apps) < 2:
            self.message_user(request, "No two apps have that title (any more).", messages.WARNING)
            return HttpResponseRedirect(changelist)
        target = merge_survivor(apps)
        others = [app for app in apps if app.pk != target.pk]
        try:
            merged = merge_apps(target, others)
        except MergeMismatch as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(changelist)
        names = ", ".join(self.merge_label(app) for app in others)
        self.log_change(request, target, f"Merged {names} into this app (same title).")
        self.merged_message(request, target, others, merged)
        return HttpResponseRedirect(changelist)

    make_public, make_private = switch_actions(
        "_set_public",
        on=("make_public", "Show in public rankings"),
        off=("make_private", "Hide from public rankings (private)"),
    )

    def _set_public(self, request, queryset, public: bool) -> None:
        apps = list(queryset)
        for app in apps:
            self.log_change(request, app, f"Set {'public' if public else 'private'}.")
        set_apps_public(apps, public)
        verb = "is" if len(apps) == 1 else "are"
        self.message_user(
            request, f"{counted(len(apps), App._meta)} {verb} now {'public' if public else 'private'}."
        )

    def save_model(self, request, obj: App, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_public" in form.changed_data:  # the change form and the list's checkbox
            set_apps_public([obj], obj.is_public)
        if change and "slug" in form.changed_data:  # badges pasted under the old slug keep working
            keep_old_slugs("app", obj, [form.initial["slug"]])

    merge_service = staticmethod(merge_apps)
    merge_note = "The others' origins become aliases of the one you pick, and their whole history moves to it in every ranking."

    def merge_label(self, obj: App) -> str:
        return f"{obj.name} ({obj.origin})"


def alias_admin(alias: str, owner: str, owner_search: str) -> type[admin.ModelAdmin]:
    """The admin of the other names of catalog entries (an app's origins, a model's aliases):
    each listed with its ``owner``, searched by either name, the owner picked by autocomplete."""
    return type(
        f"{owner.title()}{alias.title()}Admin",
        (admin.ModelAdmin,),
        {
            "list_display": [alias, owner, "created_at"],
            "search_fields": [alias, f"{owner}__{owner_search}"],
            "autocomplete_fields": [owner],
            "list_select_related": [owner],
        },
    )


admin.site.register(AppOrigin, alias_admin("origin", "app", "name"))
admin.site.register(ModelAlias, alias_admin("slug", "model", "slug"))
admin.site.register(AppSlugAlias, alias_admin("slug", "app", "name"))


class TagValueInline(admin.TabularInline):
    model = TagValue
    fields = ["value", "tag"]
    readonly_fields = ["value", "tag"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # values are kept by ingest, first seen first, up to the key's limit


@admin.register(TagKey)
class TagKeyAdmin(admin.ModelAdmin):
    """Which keys of events' ``tags`` are ranked (the others are ignored at ingest), and how
    many values each keeps before the rest count as "other"."""

    list_display = ["key", "name", "ranked", "max_values", "value_count", "position"]
    list_editable = ["ranked", "max_values", "position"]
    search_fields = ["key", "name"]
    inlines = [TagValueInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(value_count=Count("values"))

    @admin.display(description="values kept", ordering="value_count")
    def value_count(self, obj: TagKey) -> int:
        return obj.value_count

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump_generation()  # a key ranked or not shows (or goes) at once
