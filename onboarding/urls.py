from django.urls import path

from onboarding import views

urlpatterns = [
    path("deployments/<uuid:pk>/agents/register/", views.register_agent, name="register-agent"),
]
