from django.urls import path

from ingest import schema
from rankings import views

app_name = "rankings"
urlpatterns = [
    path("", views.home, name="home"),
    path("growth/", views.growth_page, name="growth"),
    # An entity page per catalog dimension with a route (ingest.schema), named after it.
    *(path(d.route, views.entity_page, {"kind": d.name}, name=d.name) for d in schema.DIMENSIONS if d.route),
]
