"""Starting and stopping Sonarium under supervisord.

`python -m launcher start` prepares the data dir, stops anything a crashed
earlier run left behind, and replaces itself with supervisord running
deployment/supervisord.conf.  What runs depends on SERVICE_TYPE and on
whether DATABASE_URL / REDIS_URL are set: unset ones get a private
PostgreSQL (`launcher.postgres`) and Valkey (`launcher.valkey`) in the data dir.
Every process it starts carries INSTANCE_MARKER in its environment, which is
how leftovers are found (the private servers also by the unix sockets they
hold: Valkey overwrites its environment with its process title).
"""
INSTANCE_MARKER = "SONARIUM_INSTANCE"
