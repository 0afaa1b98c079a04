"""The web dashboard (``/ui`` on ``steward server``): server-rendered pages over the same
services and policy as the API, signed in with a user's API token (sealed in a cookie)."""

from steward.ui.views import UI_POST_ROUTES, create_router

__all__ = ["UI_POST_ROUTES", "create_router"]
