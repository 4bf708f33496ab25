"""Access control and secrets at rest: accounts, API tokens, the first-start
setup code; encrypted settings; the content hash of each pushed playlist.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('app_setting', sa.Column('encrypted', sa.Boolean(), server_default=sa.text('false'),
                                           nullable=False))
    op.add_column('playlist_push', sa.Column('content_sha256', sa.String(length=64), nullable=True))
    op.create_table('account',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('password_changed_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'),
              nullable=False),
    sa.CheckConstraint("role IN ('admin', 'listener')", name='account_role_valid'),
    sa.CheckConstraint('username = lower(username)', name='account_username_lower'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_token',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=16), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', postgresql.TIMESTAMP(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_index(op.f('ix_api_token_account_id'), 'api_token', ['account_id'], unique=False)
    op.create_table('setup_code',
    sa.Column('id', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('code_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('id = 1', name='setup_code_single'),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('setup_code')
    op.drop_index(op.f('ix_api_token_account_id'), table_name='api_token')
    op.drop_table('api_token')
    op.drop_table('account')
    op.drop_column('playlist_push', 'content_sha256')
    op.drop_column('app_setting', 'encrypted')
