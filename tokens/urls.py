from django.urls import path

from tokens import views

urlpatterns = [
    path("deployments/<uuid:pk>/tokens/", views.tokens, name="tokens"),
]
