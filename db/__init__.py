"""Persistence: SQLAlchemy models, the engine, Alembic migrations and blob storage.

PostgreSQL is the single source of truth for tracks, analysis results, tasks
and playlists; Redis only carries jobs.
"""
