"""For WSGI servers (and the development server): the agent API's lean route in front of Django.

Production runs the ASGI app instead (astro_ui/asgi.py), which also withstands slow clients.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "astro_ui.settings")
django_app = get_wsgi_application()

from agents import ingest  # noqa: E402


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith(ingest.PREFIX):
        return ingest.wsgi(environ, start_response)
    return django_app(environ, start_response)
