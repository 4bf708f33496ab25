"""Track mood scores, loudness, and when the library last listed the track.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

MOODS = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")


def upgrade() -> None:
    for mood in MOODS:
        op.add_column('track', sa.Column(mood, sa.REAL(), nullable=True))
        op.create_check_constraint(f'track_{mood}_range', 'track', f'{mood} BETWEEN 0 AND 1')
    op.add_column('track', sa.Column('loudness_lufs', sa.REAL(), nullable=True))
    op.add_column('track', sa.Column('seen_at', postgresql.TIMESTAMP(timezone=True), nullable=True))
    op.create_index('track_provider_seen', 'track', ['provider', 'seen_at'])


def downgrade() -> None:
    op.drop_index('track_provider_seen', table_name='track')
    op.drop_column('track', 'seen_at')
    op.drop_column('track', 'loudness_lufs')
    for mood in MOODS:
        op.drop_column('track', mood)
