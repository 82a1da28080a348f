"""The HTTP server: the static site, the ccsinfo API (root), the StackUnderflow API (``/api/``), OpenAPI.

``make_app(catalog, settings)`` builds the Bottle app (app.py); ``Server`` runs it under waitress with a
watch loop (serve.py); the routes are declared once in ccsinfo.py and api.py (see openapi.py); answers are
cached by respcache.py.
"""

from .app import Settings, make_app

__all__ = ["Settings", "make_app"]
