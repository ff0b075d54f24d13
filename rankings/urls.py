from django.urls import path

from rankings import views

app_name = "rankings"
urlpatterns = [
    path("", views.home, name="home"),
    path("growth/", views.growth_page, name="growth"),
    path("models/<slug:author>/<str:name>/", views.model_detail, name="model"),
    path("authors/<slug:slug>/", views.scoped_detail, {"kind": "author"}, name="author"),
    path("apps/<slug:slug>/", views.app_detail, name="app"),
    path("categories/<slug:slug>/", views.scoped_detail, {"kind": "category"}, name="category"),
    path("providers/<slug:slug>/", views.scoped_detail, {"kind": "provider"}, name="provider"),
]
