"""The app uvicorn workers import: `uvicorn server.asgi:app` (settings from JIGSAW_*)."""

from server.app import create_app
from server.settings import load_settings

app = create_app(load_settings())
