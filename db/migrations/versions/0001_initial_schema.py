"""Initial schema: tracks, tags, embeddings, tasks, playlists, index blobs.

Also installs unaccent and pg_trgm (trusted extensions since PostgreSQL 13,
so a database owner may create them) and `sonarium_fold`, the immutable
case- and accent-folding function the search indexes are built on.

Revision ID: 0001
Revises: (none)
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # unaccent() is only STABLE (its dictionary could change); naming the
    # dictionary explicitly makes the wrapper safe to declare IMMUTABLE for indexes.
    op.execute("""
        CREATE OR REPLACE FUNCTION sonarium_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, coalesce(value, ''))) $$
    """)
    op.create_table('index_blob',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('meta', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version')
    )
    op.create_table('task',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=False),
    sa.Column('job_timeout', sa.Integer(), nullable=False),
    sa.Column('args', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='PENDING', nullable=False),
    sa.Column('progress', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('message', sa.Text(), server_default='', nullable=False),
    sa.Column('log', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('enqueued_at', postgresql.TIMESTAMP(timezone=True), nullable=True),
    sa.Column('started_at', postgresql.TIMESTAMP(timezone=True), nullable=True),
    sa.Column('heartbeat_at', postgresql.TIMESTAMP(timezone=True), nullable=True),
    sa.Column('finished_at', postgresql.TIMESTAMP(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('PENDING', 'STARTED', 'PROGRESS', 'SUCCESS', 'FAILURE', 'REVOKED')", name='task_status_valid'),
    sa.CheckConstraint('attempts >= 0', name='task_attempts_positive'),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name='task_progress_range'),
    sa.ForeignKeyConstraint(['parent_id'], ['task.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('task_live', 'task', ['status'], unique=False, postgresql_where=sa.text("status IN ('PENDING', 'STARTED', 'PROGRESS')"))
    op.create_index('task_main_created', 'task', ['created_at'], unique=False, postgresql_where=sa.text('parent_id IS NULL'))
    op.create_index('task_one_live_main_per_type', 'task', ['type'], unique=True, postgresql_where=sa.text("parent_id IS NULL AND status IN ('PENDING', 'STARTED', 'PROGRESS')"))
    op.create_index('task_parent_status', 'task', ['parent_id', 'status'], unique=False)
    op.create_table('track',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('item_id', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('artist', sa.Text(), nullable=True),
    sa.Column('album', sa.Text(), nullable=True),
    sa.Column('album_artist', sa.Text(), nullable=True),
    sa.Column('year', sa.SmallInteger(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('file_format', sa.String(length=16), nullable=True),
    sa.Column('tempo_bpm', sa.Float(), nullable=True),
    sa.Column('energy', sa.Float(), nullable=True),
    sa.Column('musical_key', sa.String(length=2), nullable=True),
    sa.Column('scale', sa.String(length=5), nullable=True),
    sa.Column('analysis_version', sa.Text(), nullable=True),
    sa.Column('analyzed_at', postgresql.TIMESTAMP(timezone=True), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("musical_key IN ('C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B')", name='track_key_valid'),
    sa.CheckConstraint("scale IN ('major', 'minor')", name='track_scale_valid'),
    sa.CheckConstraint('energy BETWEEN 0 AND 1', name='track_energy_range'),
    sa.CheckConstraint('tempo_bpm > 0', name='track_tempo_positive'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'item_id')
    )
    op.create_index('track_album_fold', 'track', [sa.literal_column('sonarium_fold(album)')], unique=False)
    op.create_index('track_analysis_version', 'track', ['analysis_version'], unique=False)
    op.create_index('track_artist_fold_trgm', 'track', [sa.literal_column('sonarium_fold(artist) gin_trgm_ops')], unique=False, postgresql_using='gin')
    op.create_index('track_title_fold_trgm', 'track', [sa.literal_column('sonarium_fold(title) gin_trgm_ops')], unique=False, postgresql_using='gin')
    op.create_table('embedding',
    sa.Column('track_id', sa.BigInteger(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('start_vector', sa.LargeBinary(), nullable=True),
    sa.Column('end_vector', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint('dim > 0', name='embedding_dim_positive'),
    sa.CheckConstraint('end_vector IS NULL OR length(end_vector) = 4 * dim', name='embedding_end_dim'),
    sa.CheckConstraint('length(vector) = 4 * dim', name='embedding_vector_dim'),
    sa.CheckConstraint('start_vector IS NULL OR length(start_vector) = 4 * dim', name='embedding_start_dim'),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('track_id')
    )
    op.create_table('index_blob_chunk',
    sa.Column('blob_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['blob_id'], ['index_blob.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('blob_id', 'seq')
    )
    op.create_table('playlist',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('automatic', 'similar', 'path', 'alchemy', 'chat', 'fingerprint', 'manual')", name='playlist_kind_valid'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('track_tags',
    sa.Column('track_id', sa.BigInteger(), nullable=False),
    sa.Column('vocabulary', sa.String(length=16), nullable=False),
    sa.Column('scores', postgresql.ARRAY(sa.REAL()), nullable=False),
    sa.CheckConstraint('cardinality(scores) > 0', name='track_tags_not_empty'),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('track_id', 'vocabulary')
    )
    op.create_table('playlist_item',
    sa.Column('playlist_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['playlist_id'], ['playlist.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('playlist_id', 'position')
    )
    op.create_index(op.f('ix_playlist_item_track_id'), 'playlist_item', ['track_id'], unique=False)
    op.create_table('playlist_push',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('playlist_id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('remote_id', sa.Text(), nullable=False),
    sa.Column('remote_name', sa.Text(), nullable=False),
    sa.Column('pushed_at', postgresql.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['playlist_id'], ['playlist.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'remote_id')
    )
    op.create_index(op.f('ix_playlist_push_playlist_id'), 'playlist_push', ['playlist_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_playlist_push_playlist_id'), table_name='playlist_push')
    op.drop_table('playlist_push')
    op.drop_index(op.f('ix_playlist_item_track_id'), table_name='playlist_item')
    op.drop_table('playlist_item')
    op.drop_table('track_tags')
    op.drop_table('playlist')
    op.drop_table('index_blob_chunk')
    op.drop_table('embedding')
    op.drop_index('track_title_fold_trgm', table_name='track', postgresql_using='gin')
    op.drop_index('track_artist_fold_trgm', table_name='track', postgresql_using='gin')
    op.drop_index('track_analysis_version', table_name='track')
    op.drop_index('track_album_fold', table_name='track')
    op.drop_table('track')
    op.drop_index('task_parent_status', table_name='task')
    op.drop_index('task_one_live_main_per_type', table_name='task', postgresql_where=sa.text("parent_id IS NULL AND status IN ('PENDING', 'STARTED', 'PROGRESS')"))
    op.drop_index('task_main_created', table_name='task', postgresql_where=sa.text('parent_id IS NULL'))
    op.drop_index('task_live', table_name='task', postgresql_where=sa.text("status IN ('PENDING', 'STARTED', 'PROGRESS')"))
    op.drop_table('task')
    op.drop_table('index_blob')
    op.execute("DROP FUNCTION IF EXISTS sonarium_fold(text)")
