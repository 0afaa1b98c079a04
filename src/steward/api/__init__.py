"""The REST API (FastAPI): typed routes over the services, token auth, error shape.

Every route but ``/healthz`` needs ``Authorization: Bearer <token>``; every route that
changes state is one governed action. Errors are ``{"error", "message", "details"}``.
"""

from steward.api.app import MUTATING_ROUTES, READ_ONLY_ROUTES, create_app
from steward.api.background import background_server

__all__ = ["MUTATING_ROUTES", "READ_ONLY_ROUTES", "background_server", "create_app"]
