from django.shortcuts import render


def home(request):
    return render(request, "rankings/home.html")


def model_detail(request, author, name):
    return render(request, "rankings/home.html")


author_detail = app_detail = category_detail = provider_detail = model_detail
