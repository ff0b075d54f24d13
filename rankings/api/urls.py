from django.urls import path

from rankings.api import details, exports, growth, lists, narrow, views

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    *[
        path(f"rankings/{plural}", views.ranking_view(plural).as_view(), name=f"api-rankings-{plural}")
        for plural in views.ENTITY_BY_PLURAL
    ],
    path("timeseries", views.TimeseriesView.as_view(), name="api-timeseries"),
    path("trending/models", views.TrendingView.as_view(), name="api-trending-models"),
    path("trending/apps", views.TrendingAppsView.as_view(), name="api-trending-apps"),
    path("models/<slug:author>/<str:name>", details.ModelDetailView.as_view(), name="api-model"),
    path("authors/<slug:slug>", details.AuthorDetailView.as_view(), name="api-author"),
    path("apps/<slug:slug>", details.AppDetailView.as_view(), name="api-app"),
    path("categories", views.CatalogListView.as_view(), name="api-categories"),
    path("providers", views.ProviderListView.as_view(), name="api-providers"),
    path("models", lists.index_list_view("model").as_view(), name="api-models"),
    path("apps", lists.index_list_view("app").as_view(), name="api-apps"),
    path("authors", lists.index_list_view("author").as_view(), name="api-authors"),
    path("search", lists.SearchView.as_view(), name="api-search"),
    path("growth", growth.GrowthView.as_view(), name="api-growth"),
    path("tool-calls", narrow.ToolCallsView.as_view(), name="api-tool-calls"),
    path("context-lengths", narrow.ContextLengthView.as_view(), name="api-context-lengths"),
    path("tags", narrow.TagKeysView.as_view(), name="api-tags"),
    path("tags/<str:key>", narrow.TagRankingView.as_view(), name="api-tag"),
    path("tags/<str:key>/timeseries", narrow.TagSeriesView.as_view(), name="api-tag-series"),
    path("sessions", narrow.SessionsView.as_view(), name="api-sessions"),
    path("datasets/rankings-daily", views.ModelDailyDatasetView.as_view(), name="api-rankings-daily"),
    path("datasets/app-rankings-daily", views.AppDailyDatasetView.as_view(), name="api-app-rankings-daily"),
    path("datasets/exports/", exports.ExportsIndexView.as_view(), name="api-exports"),
    path("datasets/exports/README", exports.ExportsReadmeView.as_view(), name="api-exports-readme"),
    path("datasets/exports/<str:day>/", exports.ExportsManifestView.as_view(), name="api-exports-manifest"),
    path("datasets/exports/<str:day>/<str:name>", exports.ExportsFileView.as_view(), name="api-exports-file"),
]
