"""The energy of each track's first and last seconds, where playlist order joins songs.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

EDGES = ("start_energy", "end_energy")


def upgrade() -> None:
    for column in EDGES:
        op.add_column('track', sa.Column(column, sa.REAL(), nullable=True))
        op.create_check_constraint(f'track_{column}_range', 'track', f'{column} BETWEEN 0 AND 1')


def downgrade() -> None:
    for column in EDGES:
        op.drop_column('track', column)
