"""What production serves: `granian --interface asgi astro_ui.asgi:application` (see README).

The agent API goes to its lean async route; everything else to Django once its body has arrived
(astro_ui/front.py).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "astro_ui.settings")

import django

django.setup(set_prefix=False)

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from agents import ingest  # noqa: E402
from astro_ui import front  # noqa: E402

django_app = front.BufferedWSGI(WSGIHandler())


async def application(scope, receive, send) -> None:
    if scope["type"] == "http":
        if scope["path"].startswith(ingest.PREFIX):
            await ingest.asgi(scope, receive, send)
        else:
            await django_app(scope, receive, send)
    elif scope["type"] == "lifespan":
        await front.lifespan(receive, send)
