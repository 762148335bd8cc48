from django.urls import path

from tokens import views

urlpatterns = [
    path("deployments/<uuid:pk>/tokens/", views.tokens, name="tokens"),
    path("deployments/<uuid:pk>/tokens/new/", views.create_token, name="token-create"),
    path(
        "deployments/<uuid:pk>/tokens/<uuid:token_id>/delete/",
        views.delete_token,
        name="token-delete",
    ),
]
