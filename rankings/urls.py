from django.urls import path

from rankings import browse, embeds, views

app_name = "rankings"
urlpatterns = [
    path("", views.home, name="home"),
    path("growth/", views.growth_page, name="growth"),
    path("search/", browse.search, name="search"),
    path("models/", browse.index, {"kind": "model"}, name="models"),
    path("apps/", browse.index, {"kind": "app"}, name="apps"),
    path("authors/", browse.index, {"kind": "author"}, name="authors"),
    path("providers/", browse.index, {"kind": "provider"}, name="providers"),
    path("categories/", browse.index, {"kind": "category"}, name="categories"),
    path("models/<slug:author>/<str:name>/", views.model_detail, name="model"),
    path("authors/<slug:slug>/", views.scoped_detail, {"kind": "author"}, name="author"),
    path("apps/<slug:slug>/", views.scoped_detail, {"kind": "app"}, name="app"),
    path("categories/<slug:slug>/", views.scoped_detail, {"kind": "category"}, name="category"),
    path("providers/<slug:slug>/", views.scoped_detail, {"kind": "provider"}, name="provider"),
    path("embed/growth/<slug:name>/", embeds.embed_growth, name="embed-growth"),
    path("embed/<slug:section>/", embeds.embed_section, name="embed-section"),
    path("embed/<slug:plural>/<path:slug>/", embeds.embed_entity, name="embed-entity"),
    path("badge/<slug:plural>/<path:slug>.svg", embeds.badge, name="badge"),
    path("og/home.png", embeds.og_home, name="og-home"),
    path("og/<slug:plural>/<path:slug>.png", embeds.og_entity, name="og-entity"),
]
