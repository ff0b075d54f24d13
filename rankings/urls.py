from django.urls import path

from ingest import schema
from rankings import browse, embeds, growth_views, views

# Catalog dimensions of ingest.schema: an index page each (/models/ ...), and an entity page
# each (/models/<author>/<name>/ ...), named after the plural and the dimension.
CATALOG = [d for d in schema.DIMENSIONS if d.catalog]

app_name = "rankings"
urlpatterns = [
    path("", views.home, name="home"),
    path("growth/", growth_views.growth_page, name="growth"),
    path("search/", browse.search, name="search"),
    *(path(f"{d.plural}/", browse.index, {"kind": d.name}, name=d.plural) for d in CATALOG),
    *(path(d.route, views.entity_view, {"kind": d.name}, name=d.name) for d in CATALOG if d.route),
    path("embed/growth/<slug:name>/", embeds.embed_growth, name="embed-growth"),
    path("embed/<slug:section>/", embeds.embed_section, name="embed-section"),
    path("embed/<slug:plural>/<path:slug>/", embeds.embed_entity, name="embed-entity"),
    path("badge/<slug:plural>/<path:slug>.svg", embeds.badge, name="badge"),
    path("og/home.png", embeds.og_home, name="og-home"),
    path("og/<slug:plural>/<path:slug>.png", embeds.og_entity, name="og-entity"),
]
