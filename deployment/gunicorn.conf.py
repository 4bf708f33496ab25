"""gunicorn settings, derived from Sonarium's own (config.py)."""
import os

from config import load_settings

# Requests do small matrix products (a few hundred vectors): one BLAS thread each
# is faster and steadier than OpenBLAS spreading every product over all cores
# while other requests want them.  Set before the app imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

_settings = load_settings()
bind = f"{_settings.web_host}:{_settings.web_port}"
workers = _settings.web_workers
threads = _settings.web_threads
timeout = 120
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
