from django.urls import path

from agents import views

urlpatterns = [
    path("deployments/<uuid:pk>/agents/", views.agents, name="agents"),
]
