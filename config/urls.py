from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health
from config.metrics import metrics_view
from ingest import receivers
from rankings.api.views import not_found

admin.autodiscover()  # here, not at start-up: see INSTALLED_APPS in config/settings.py

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script as a file: no inline script for the CSP to block.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("ingest.urls")),
    # OTLP/HTTP: OTEL_EXPORTER_OTLP_ENDPOINT=https://host/otlp (the exporter appends /v1/traces).
    path("otlp/v1/traces", receivers.OtlpTracesView.as_view(), name="otlp-traces"),
    re_path(r"^otlp/v1/(?P<signal>metrics|logs)$", receivers.OtlpUnsupportedView.as_view()),
    path("api/v1/", include("rankings.api.urls")),
    re_path(r"^api/(?P<path>[\s\S]*)$", not_found),
    path("", include("rankings.urls")),
]

handler400 = "rankings.errors.bad_request"
handler403 = "rankings.errors.permission_denied"
handler404 = "rankings.errors.page_not_found"
handler500 = "rankings.errors.server_error"
