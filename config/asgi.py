import os

from django.core.asgi import get_asgi_application

from config import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
embedded.ensure_started()  # the data folder, and the embedded servers when no URLs are set
application = get_asgi_application()
