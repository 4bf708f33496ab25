#!/bin/sh
# Container entrypoint.  SERVICE_TYPE (web | worker | all) chooses what runs;
# DATABASE_URL and REDIS_URL point at the compose / cluster services.  The
# launcher checks every setting first and stops with a clear message on a bad one.
set -e
exec python -m launcher start
