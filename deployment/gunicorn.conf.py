"""gunicorn settings, derived from Sonarium's own (config.py)."""
from config import load_settings

_settings = load_settings()
bind = f"{_settings.web_host}:{_settings.web_port}"
workers = _settings.web_workers
threads = 4
timeout = 120
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
