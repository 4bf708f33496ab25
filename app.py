"""The Flask application factory.

`create_app(test_config=None)` loads settings (test_config entries, named like
the environment variables, override the environment), connects the database
and Redis, applies migrations, puts every route behind the request guard
(auth/guard.py: Host check, sign-in or API token, roles, cross-site
protection, security headers) and registers the blueprints and the error
handlers (api_errors.py says how each failure is answered).
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

import api_errors
import api_input
import runtime
from auth import guard
from config import load_settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    test_config = dict(test_config or {})
    settings = load_settings(overrides=test_config)
    runtime.init(settings, wait=float(test_config.get("DATABASE_WAIT_SECONDS", 60)))

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=1024 * 1024)
    app.json.sort_keys = False  # keep results in the order tasks build them
    app.config.update({k: v for k, v in test_config.items() if k in ("TESTING",)})
    from similarity.live import LiveIndex
    from similarity.projection import LiveProjection
    live_index, live_map = LiveIndex(), LiveProjection()
    live_index.refresh()  # both loaded before the first request
    live_map.refresh()
    live_index.start(settings.index_reload_seconds, also=[live_map])
    app.extensions["sonarium.index"] = live_index
    app.extensions["sonarium.map"] = live_map

    guard.init_app(app, settings)
    api_input.init_app(app)
    import app_alchemy
    import app_auth
    import app_chat
    import app_clustering
    import app_listen
    import app_map
    import app_playlists
    import app_radio
    import app_settings
    import app_similarity
    import app_system
    import app_tasks
    app.register_blueprint(app_auth.bp)
    app.register_blueprint(app_tasks.bp)
    app.register_blueprint(app_system.bp)
    app.register_blueprint(app_settings.bp)
    app.register_blueprint(app_similarity.bp)
    app.register_blueprint(app_playlists.bp)
    app.register_blueprint(app_alchemy.bp)
    app.register_blueprint(app_clustering.bp)
    app.register_blueprint(app_chat.bp)
    app.register_blueprint(app_radio.bp)
    app.register_blueprint(app_map.bp)
    app.register_blueprint(app_listen.bp)
    api_errors.register(app)
    return app
