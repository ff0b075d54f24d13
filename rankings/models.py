"""The catalog: who and what is ranked. (The usage rollups are ingest's: ``ingest.models``.)"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models.functions import Lower, Trim
from django.urls import reverse

# Sites the public pages link to: web addresses only (URLField alone also allows ftp).
WEB_URL = URLValidator(schemes=["http", "https"])

VARIANTS = ("free", "nitro", "floor", "thinking", "extended", "online", "beta", "exacto")
VARIANT_CHOICES = [("", "standard")] + [(v, f":{v}") for v in VARIANTS]


class Dated(models.Model):
    """A catalog row that records when it was made and is shown as one of its fields."""

    shown_as = "slug"  # the field its admin lists, links and messages show

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return getattr(self, self.shown_as)


class CatalogEntry(Dated):
    """Fields shared by every catalog entity that ingest may create on first sight."""

    shown_as = "name"

    slug = models.SlugField(max_length=200, unique=True)
    name = models.CharField(max_length=200)
    needs_review = models.BooleanField(
        default=False, help_text="Created by ingest on first sight; not yet confirmed by staff."
    )

    class Meta(Dated.Meta):
        abstract = True
        ordering = ["name"]


class Author(CatalogEntry):
    """A model author (lab): the prefix of a model slug, e.g. ``anthropic``."""

    url = models.URLField(blank=True, validators=[WEB_URL])

    def get_absolute_url(self) -> str:
        return reverse("rankings:author", args=[self.slug])


class Provider(CatalogEntry):
    """A hosting provider that serves models (e.g. Together, Fireworks, Google Vertex)."""

    def get_absolute_url(self) -> str:
        return reverse("rankings:provider", args=[self.slug])


class Category(CatalogEntry):
    """One of the rankings categories (programming, roleplay, ...), plus ``other``."""

    position = models.PositiveSmallIntegerField(default=100)

    class Meta(CatalogEntry.Meta):
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def get_absolute_url(self) -> str:
        return reverse("rankings:category", args=[self.slug])


class LLMModel(models.Model):
    """A model, identified by ``author/name`` without its variant suffix."""

    slug = models.CharField(
        max_length=200, unique=True, help_text="author/name, e.g. google/gemini-2.5-flash"
    )
    name = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="models")
    context_length = models.PositiveIntegerField(null=True, blank=True)
    prompt_price = models.DecimalField(
        "prompt $ / 1M tokens", max_digits=12, decimal_places=6, null=True, blank=True
    )
    completion_price = models.DecimalField(
        "completion $ / 1M tokens", max_digits=12, decimal_places=6, null=True, blank=True
    )
    supports_reasoning = models.BooleanField(default=False)
    release_date = models.DateField(null=True, blank=True)
    permaslug = models.CharField(
        max_length=200, blank=True,
        help_text="OpenRouter's dated permaslug, e.g. openai/gpt-4o-mini-2024-07-18; the datasets list it "
        "(the slug when blank). Set from the first dated alias seen.",
    )
    needs_review = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("rankings:model", args=[self.author.slug, self.short_slug])

    @property
    def short_slug(self) -> str:
        return self.slug.split("/", 1)[1]


class OtherSlug(Dated):
    """Another slug a catalog entry answers to: URLs under it (page, API detail, embeds,
    badges already pasted into READMEs) redirect permanently to the entry's own."""

    class Meta(Dated.Meta):
        abstract = True
        ordering = ["slug"]


class ModelAlias(OtherSlug):
    """Another slug that counts as a model: a dated permaslug (``openai/gpt-4o-mini-2024-07-18``
    counts as ``openai/gpt-4o-mini``), the slug of a model merged into it, or its own before a
    rename."""

    slug = models.CharField(max_length=200, unique=True)
    model = models.ForeignKey(LLMModel, on_delete=models.CASCADE, related_name="aliases")

    class Meta(OtherSlug.Meta):
        verbose_name = "model alias"
        verbose_name_plural = "model aliases"


# An app's title as compared for likely aliases (the admin's "same title"): case and runs of
# white space aside.
TITLE_KEY = Lower(
    models.Func(
        Trim("name"), models.Value(r"\s+"), models.Value(" "), models.Value("g"), function="regexp_replace"
    )
)


class App(CatalogEntry):
    """An application calling the gateway, identified by its origin URL (HTTP-Referer), or by
    its title (``title:<name>``) when it is known only from export files that carry no URL."""

    UNATTRIBUTED_SLUG = "unattributed"

    origin = models.CharField(
        max_length=500,
        unique=True,
        help_text="Canonical origin URL (or title:<name> for an app known only by its title in "
        "imported exports); other origins are aliases.",
    )
    description = models.TextField(blank=True)
    url = models.URLField(
        blank=True,
        max_length=500,
        validators=[WEB_URL],
        help_text="Public site the name links to (http or https).",
    )
    is_public = models.BooleanField(
        default=True, help_text="Private apps never appear in any ranking, page, CSV or API."
    )
    categories = models.ManyToManyField(Category, blank=True, related_name="apps")

    class Meta(CatalogEntry.Meta):
        # The admin's app list counts each listed app's namesakes (a probe per row) and
        # filters by shared titles: both look titles up by this expression.
        indexes = [models.Index(TITLE_KEY, name="app_title_key")]

    def get_absolute_url(self) -> str:
        return reverse("rankings:app", args=[self.slug])


class AppOrigin(models.Model):
    """An origin URL that counts as an app; every app has its canonical origin here too."""

    origin = models.CharField(max_length=500, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="origins")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "app origin (alias)"
        verbose_name_plural = "app origins (aliases)"

    def __str__(self) -> str:
        return self.origin


class AppSlugAlias(OtherSlug):
    """A slug an app was known by before it was merged into ``app`` (or renamed)."""

    slug = models.SlugField(max_length=200, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="old_slugs")

    class Meta(OtherSlug.Meta):
        verbose_name = "app's old slug"
        verbose_name_plural = "apps' old slugs"


class TagKey(models.Model):
    """A key of events' ``tags`` the operator ranks (``programming_language``, ``language``
    and ``task`` by default). Values of keys that are not ranked are ignored at ingest; a
    ranked key keeps at most ``max_values`` values, later ones count as "other", so that a
    key's cardinality cannot grow the rollups without bound."""

    KEY_PATTERN = r"^[a-z0-9_.-]{1,64}$"

    key = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(KEY_PATTERN, "Lowercase letters, digits, _ . - (at most 64).")],
        help_text="As sent in events' tags (compared lowercased).",
    )
    name = models.CharField(max_length=100, help_text="Shown on pages, e.g. Programming language.")
    ranked = models.BooleanField(default=True, help_text="Counted and shown; unranked keys are ignored.")
    max_values = models.PositiveSmallIntegerField(
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text='Distinct values kept (first seen first); the rest count as "other".',
    )
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.name or self.key


class TagValue(models.Model):
    """A value of a ranked tag key, kept in the rollups under its id. ``tag`` is the text
    events carry after normalisation (``key=value``); ``other`` stands for the values over
    the key's limit."""

    OTHER = "other"

    key = models.ForeignKey(TagKey, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=100)
    tag = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["key", "value"]
        constraints = [models.UniqueConstraint(fields=["key", "value"], name="tag_value_key_value")]

    def __str__(self) -> str:
        return self.value
