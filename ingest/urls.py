from django.urls import path

from ingest import receivers, views

app_name = "ingest"
urlpatterns = [
    path("events", views.EventsView.as_view(), name="events"),
    path("integrations/litellm", receivers.LiteLLMView.as_view(), name="litellm"),
]
