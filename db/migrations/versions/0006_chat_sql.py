"""The chat page's SQL tool: the view `chat_tracks`, the function
`sonarium_chat_rows` that runs one query string, and the NOLOGIN role
`sonarium_chat_reader` that may only SELECT from the view.

- `chat_tracks`: one row per analysed track (analyzed_at set) with the
  features a query may use; the tag probabilities are two real[] columns,
  `msd` and `mtt`, indexed 1..50 in the order of analysis.labels.MSD_LABELS
  and MTT_LABELS (db/chat_sql.py prints that order for the model). A plain
  view, so it reads the tables with its owner's rights; the role needs no
  right on `track` or `track_tags`.
- `sonarium_chat_rows(query text)`: runs `query` through a PL/pgSQL cursor
  loop and returns each row as json, at most 200. The query arrives as one
  bound string, so the server parses it as exactly one statement that must
  return rows: a second statement smuggled behind a `;` (a COMMIT that would
  end the read-only transaction, a RESET ROLE) is an error, whatever the
  validator said. It is owned by the role and SECURITY DEFINER, so the query
  runs as the role and cannot leave it: PostgreSQL refuses SET ROLE and
  set_config('role'/'session_authorization') inside a security-definer
  function, which SET LOCAL ROLE alone does not (a session user may always
  go back to itself). EXECUTE is revoked from PUBLIC (the owner keeps it).
- `sonarium_chat_reader` (db.chat_sql.CHAT_ROLE): NOLOGIN, granted SELECT on
  the view and nothing else (it owns the runner function), and granted to the
  user running the migration so the app can `SET LOCAL ROLE` to it. Roles are
  cluster-wide: it is created only when missing (a concurrent CREATE from
  another database on the same server is tolerated); the per-database grants
  and ownership travel with a database cloned from a migrated template.

An external PostgreSQL whose Sonarium user may not create roles: the
migration does not fail; it logs a warning and skips what it may not do, and
the chat SQL tool then refuses to run, saying the role is missing or not set
up (the rest of Sonarium works). Easiest: before Sonarium's first start, a
superuser (or a role with CREATEROLE) runs

    CREATE ROLE sonarium_chat_reader NOLOGIN;
    GRANT sonarium_chat_reader TO <sonarium user>;

and this migration does the rest (Sonarium's user owns its database). If the
migration already ran, a superuser also runs, in Sonarium's database:

    GRANT SELECT ON chat_tracks TO sonarium_chat_reader;
    ALTER FUNCTION sonarium_chat_rows(text) OWNER TO sonarium_chat_reader;
    ALTER FUNCTION sonarium_chat_rows(text) SECURITY DEFINER;

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ROLE = 'sonarium_chat_reader'   # the same name as db.chat_sql.CHAT_ROLE (a migration is frozen in time)
MAX_ROWS = 200                  # db.chat_sql.MAX_ROWS


def upgrade() -> None:
    op.execute("""
        CREATE VIEW chat_tracks AS
        SELECT t.id, t.item_id, t.title, t.artist, t.album, t.year, t.duration_s, t.tempo_bpm, t.energy,
               t.musical_key, t.scale, t.loudness_lufs,
               t.danceable, t.aggressive, t.happy, t.party, t.relaxed, t.sad,
               msd.scores AS msd, mtt.scores AS mtt
        FROM track t
        LEFT JOIN track_tags msd ON msd.track_id = t.id AND msd.vocabulary = 'msd'
        LEFT JOIN track_tags mtt ON mtt.track_id = t.id AND mtt.vocabulary = 'mtt'
        WHERE t.analyzed_at IS NOT NULL
    """)
    op.execute(f"""
        CREATE FUNCTION sonarium_chat_rows(query text) RETURNS SETOF json
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $body$
        DECLARE
            found_row record;
            counted integer := 0;
        BEGIN
            FOR found_row IN EXECUTE query LOOP
                RETURN NEXT to_json(found_row);
                counted := counted + 1;
                EXIT WHEN counted >= {MAX_ROWS};
            END LOOP;
        END
        $body$
    """)
    op.execute("REVOKE EXECUTE ON FUNCTION sonarium_chat_rows(text) FROM PUBLIC")
    # Create the role if it is missing; without the right to, warn and go on (the tool then refuses).
    op.execute(f"""
        DO $body$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                BEGIN
                    CREATE ROLE {ROLE} NOLOGIN;
                EXCEPTION
                    WHEN duplicate_object OR unique_violation THEN
                        NULL;   -- created meanwhile by a migration of another database on this server
                    WHEN insufficient_privilege THEN
                        RAISE WARNING 'sonarium: may not create role {ROLE}; the chat SQL tool stays off '
                                      'until an administrator creates it (see migration 0006 or the README)';
                        RETURN;
                END;
            END IF;
            EXECUTE 'GRANT SELECT ON chat_tracks TO {ROLE}';
            IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                BEGIN
                    EXECUTE 'GRANT {ROLE} TO ' || quote_ident(current_user);
                EXCEPTION
                    WHEN unique_violation THEN
                        NULL;   -- granted meanwhile by a migration of another database on this server
                    WHEN insufficient_privilege THEN
                        RAISE WARNING 'sonarium: may not grant role {ROLE} to %; the chat SQL tool stays off '
                                      'until an administrator does (see migration 0006 or the README)', current_user;
                        RETURN;
                END;
            END IF;
            -- Hand the runner to the role: as a SECURITY DEFINER function owned by it, the query inside
            -- runs as the role and may not change role (PostgreSQL refuses SET ROLE / set_config('role')
            -- within a security-definer function). The new owner needs CREATE on the schema for the
            -- moment of the change only.
            BEGIN
                EXECUTE 'GRANT CREATE ON SCHEMA public TO {ROLE}';
                EXECUTE 'ALTER FUNCTION sonarium_chat_rows(text) OWNER TO {ROLE}';
                EXECUTE 'ALTER FUNCTION sonarium_chat_rows(text) SECURITY DEFINER';
                EXECUTE 'REVOKE CREATE ON SCHEMA public FROM {ROLE}';
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'sonarium: may not give sonarium_chat_rows to role {ROLE}; the chat SQL tool '
                              'stays off until an administrator does (see migration 0006 or the README)';
            END;
        END
        $body$
    """)


def downgrade() -> None:
    # The role is cluster-wide and may serve other databases: it is left in place.
    op.execute(f"""
        DO $body$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                EXECUTE 'REVOKE ALL ON chat_tracks FROM {ROLE}';
            END IF;
        END
        $body$
    """)
    op.execute("DROP FUNCTION sonarium_chat_rows(text)")   # owned by the role: the migrating user is its member
    op.execute("DROP VIEW chat_tracks")
