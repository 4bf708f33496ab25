"""Index tracks by media-server item id alone.

The feature APIs look songs up by the id the media server gave them, without
the provider (the unique (provider, item_id) index cannot serve that): without
this index every lookup scans the track table (21 ms at 100k tracks).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('track_item_id', 'track', ['item_id'])


def downgrade() -> None:
    op.drop_index('track_item_id', table_name='track')
