"""Embeddings keyed by (track, model), with the time each was written.

A new vector model is written beside the old one while a re-analysis runs,
so similarity keeps serving the old model until the switch (similarity.index);
created_at tells the index which stored vectors are newer than those it holds.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TIMESTAMP

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint('embedding_pkey', 'embedding', type_='primary')
    op.create_primary_key('embedding_pkey', 'embedding', ['track_id', 'model'])
    # Rows already stored count as written now: the first index update after
    # this migration compares them with the index once (similarity.index._update).
    op.add_column('embedding', sa.Column('created_at', TIMESTAMP(timezone=True), nullable=False,
                                         server_default=sa.func.now()))
    op.create_index('embedding_model_created', 'embedding', ['model', 'created_at'])


def downgrade() -> None:
    op.drop_index('embedding_model_created', table_name='embedding')
    op.drop_column('embedding', 'created_at')
    op.drop_constraint('embedding_pkey', 'embedding', type_='primary')
    op.create_primary_key('embedding_pkey', 'embedding', ['track_id'])
