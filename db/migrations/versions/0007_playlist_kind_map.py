"""Playlists made on the music map (a lassoed region): playlist kind 'map'.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The kinds as they stand at each revision (db.models.PLAYLIST_KINDS; a migration is frozen in time).
_BEFORE = ('automatic', 'similar', 'path', 'alchemy', 'chat', 'fingerprint', 'manual')
_AFTER = _BEFORE + ('map',)


def _allow(kinds: tuple[str, ...]) -> None:
    op.drop_constraint('playlist_kind_valid', 'playlist', type_='check')
    op.create_check_constraint('playlist_kind_valid', 'playlist',
                               "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")")


def upgrade() -> None:
    _allow(_AFTER)


def downgrade() -> None:
    op.execute("UPDATE playlist SET kind = 'manual' WHERE kind = 'map'")
    _allow(_BEFORE)
