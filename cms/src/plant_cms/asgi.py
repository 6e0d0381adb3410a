"""The CMS's ASGI application (`uvicorn plant_cms.asgi:application`).

Request ids outermost, so every response carries `X-Request-ID` (admin pages included) and every log
line the id; then one metrics sample and access-log line per request.
"""

import os

from django.core.asgi import get_asgi_application
from plant_shared.metrics import ObservabilityMiddleware
from plant_shared.request_id import RequestIdMiddleware

# Fail safe: a forgotten DJANGO_SETTINGS_MODULE must never mean DEBUG on; production refuses to start
# without real secrets instead.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plant_cms.settings.production")

django_application = get_asgi_application()

application = RequestIdMiddleware(ObservabilityMiddleware(django_application, service="cms"))
