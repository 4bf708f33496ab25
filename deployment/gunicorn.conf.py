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
# Requests are read whole on an event loop before Flask gets one of WEB_THREADS
# threads, so slow clients cannot hold the threads (web_server.py says how).
worker_class = "web_server.Worker"
timeout = 120
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()


def on_starting(server):
    """Once, in the master, before the workers: the first-start admin or setup code.

    Printed here rather than in each worker so a new install shows exactly one
    setup code on the console (supervisord passes the web server's output through).
    """
    import runtime
    from auth import setup
    runtime.init(_settings)
    setup.on_start(_settings.admin_username, _settings.admin_password)
