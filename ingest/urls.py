from django.urls import path

from ingest import views

app_name = "ingest"
urlpatterns = [
    path("events", views.EventsView.as_view(), name="events"),
]
