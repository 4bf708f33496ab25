"""The chat's SQL tool (db/chat_sql.py, migration 0006): the validator, the database guards, each alone.

The hostile corpus is tests/hostile_sql.py: every string is refused by check(), and the same strings
run with the validator bypassed (chat_sql.execute) write nothing, read no other table or secret, and
stop within the statement timeout.
"""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from db import chat_sql
from db.chat_sql import ChatSqlUnavailable, QueryFailed, UnsafeQuery
from tests.hostile_sql import CLAMPED, HOSTILE, SECRET, database_snapshot, make_secret_library

PER_QUERY_SECONDS = 6.0   # the 2 s timeout, a connection, and a loaded machine


@pytest.mark.parametrize("sql", HOSTILE, ids=range(len(HOSTILE)))
def test_check_refuses_hostile_sql(sql):
    with pytest.raises(UnsafeQuery) as refused:
        chat_sql.check(sql)
    assert str(refused.value) and "Traceback" not in str(refused.value)


def test_the_corpus_is_large_and_distinct():
    assert len(HOSTILE) >= 100 and len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("sql", CLAMPED, ids=range(len(CLAMPED)))
def test_check_forces_limit_to_200(sql):
    assert chat_sql.check(sql).endswith("LIMIT 200")


def test_check_adds_a_missing_limit_and_keeps_a_lower_one():
    assert chat_sql.check("SELECT id FROM chat_tracks") == "SELECT id FROM chat_tracks LIMIT 200"
    assert chat_sql.check("select id from chat_tracks limit 7") == "SELECT id FROM chat_tracks LIMIT 7"
    assert chat_sql.check("SELECT id FROM chat_tracks -- the end") == "SELECT id FROM chat_tracks LIMIT 200"


@pytest.fixture
def library(env):
    return make_secret_library()


def _run_bypassed(sql: str) -> tuple[str, float, list]:
    started = time.monotonic()
    try:
        rows = chat_sql.execute(sql)
    except (UnsafeQuery, QueryFailed) as error:
        message = str(error)
        assert "Traceback" not in message and "psycopg2" not in message, (sql, message)
        rows = []
    return sql, time.monotonic() - started, rows


def test_the_database_guards_alone_stop_the_corpus(env, library):
    """The validator bypassed: every hostile string runs through execute() as it is (eight at a time,
    which also shows the guards hold under concurrency)."""
    before = database_snapshot(env["DATABASE_URL"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_run_bypassed, HOSTILE))
    for sql, elapsed, rows in results:
        assert elapsed < PER_QUERY_SECONDS, f"{sql!r} ran {elapsed:.1f} s"
        assert SECRET not in json.dumps(rows, default=str), f"{sql!r} read a secret"
        assert len(rows) <= chat_sql.MAX_ROWS
    assert database_snapshot(env["DATABASE_URL"]) == before


def test_each_database_guard(env, library):
    """pg_sleep(10) is stopped at the 2 s timeout; the role reads no other table; a second statement is
    a database error; inside the runner the role cannot be left (SET LOCAL ROLE alone would let
    set_config('role', ...) go back to the session user)."""
    started = time.monotonic()
    with pytest.raises(QueryFailed, match="longer than 2s"):
        chat_sql.execute("SELECT pg_sleep(10)")
    assert 1.5 < time.monotonic() - started < PER_QUERY_SECONDS

    for table in ("app_setting", "account", "api_token", "track", "track_tags", "setup_code"):
        with pytest.raises(QueryFailed, match="permission denied"):
            chat_sql.execute(f"SELECT * FROM {table}")

    with pytest.raises(QueryFailed, match="multi-query"):
        chat_sql.execute("SELECT 1; COMMIT; DELETE FROM track")
    assert len(chat_sql.run("SELECT id FROM chat_tracks")) == 36

    for sql in ("SELECT set_config('role', 'postgres', true) FROM chat_tracks",
                "SELECT set_config('session_authorization', 'postgres', true)"):
        with pytest.raises(QueryFailed, match="security-definer"):
            chat_sql.execute(sql)


def test_the_role_may_only_select_from_the_view(env, monkeypatch):
    connection = psycopg2.connect(env["DATABASE_URL"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                           "WHERE grantee = %s", (chat_sql.CHAT_ROLE,))
            assert cursor.fetchall() == [("chat_tracks", "SELECT")]
            cursor.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", (chat_sql.CHAT_ROLE,))
            assert cursor.fetchall() == [(False, False)]
    finally:
        connection.close()

    # without the role the tool refuses and says why
    monkeypatch.setattr(chat_sql, "CHAT_ROLE", "sonarium_chat_reader_missing")
    with pytest.raises(ChatSqlUnavailable, match="administrator must create the NOLOGIN role"):
        chat_sql.run("SELECT id FROM chat_tracks")


def test_good_queries_return_the_right_rows(env, library):
    ids = library.ids
    jazz = {ids[name] for name in library.groups["jazz"]}
    rows = chat_sql.run("SELECT id, title FROM chat_tracks WHERE artist ILIKE 'jazz%' ORDER BY id")
    assert [row["id"] for row in rows] == sorted(jazz)

    # the ambient group (third) has the fastest tempo and its own top MSD tag: index 14 -> msd[15]
    rows = chat_sql.run("SELECT id FROM chat_tracks WHERE msd[15] > 0.5 ORDER BY tempo_bpm DESC")
    assert {row["id"] for row in rows} == {ids[name] for name in library.groups["ambient"]}

    rows = chat_sql.run("SELECT album, count(*) AS n, round(avg(energy)::numeric, 2) AS energy "
                        "FROM chat_tracks GROUP BY album ORDER BY energy")
    assert [(row["album"], row["n"]) for row in rows] == [("Jazz album", 12), ("Metal album", 12),
                                                          ("Ambient album", 12)]

    rows = chat_sql.run("WITH ranked AS (SELECT id, artist, row_number() OVER (PARTITION BY artist "
                        "ORDER BY relaxed DESC) AS r FROM chat_tracks) "
                        "SELECT artist, count(*) AS n FROM ranked WHERE r <= 2 GROUP BY artist")
    assert len(rows) == 9 and {row["n"] for row in rows} == {2}

    rows = chat_sql.run("SELECT id, title, msd, mtt, danceable FROM chat_tracks WHERE title = :title",
                        {"title": "Metal 3"})
    assert [row["id"] for row in rows] == [ids["metal-3"]]
    assert len(rows[0]["msd"]) == 50 and len(rows[0]["mtt"]) == 50

    assert chat_sql.run("SELECT id FROM chat_tracks WHERE title = :title", {"title": "x' OR 1=1 --"}) == []


def test_limit_is_forced_to_200_in_the_answer(env, library):
    rows = chat_sql.run("SELECT a.id, b.id AS other FROM chat_tracks a, chat_tracks b LIMIT 5000")
    assert len(rows) == 200
    # the database's own cap, validator bypassed
    assert len(chat_sql.execute("SELECT a.id FROM chat_tracks a, chat_tracks b")) == 200


def test_the_view_holds_only_analysed_tracks_and_errors_are_plain(env, library):
    from db.models import Track
    from db.session import session_scope
    with session_scope() as session:
        session.add(Track(provider="local", item_id="not-analysed", title="Pending"))
    assert chat_sql.run("SELECT id FROM chat_tracks WHERE title = 'Pending'") == []
    assert len(chat_sql.run("SELECT id FROM chat_tracks")) == 36

    # errors come back plain
    with pytest.raises(QueryFailed, match='column "nosuch" does not exist'):
        chat_sql.run("SELECT nosuch FROM chat_tracks")
    with pytest.raises(UnsafeQuery, match=":title has no value"):
        chat_sql.run("SELECT id FROM chat_tracks WHERE title = :title")
    with pytest.raises(UnsafeQuery, match="parameters must be"):
        chat_sql.run("SELECT id FROM chat_tracks WHERE title = :title", {"title": object()})
    with pytest.raises(UnsafeQuery, match="function pg_sleep is not allowed"):
        chat_sql.check("SELECT pg_sleep(1) FROM chat_tracks")
    with pytest.raises(UnsafeQuery, match="only the view chat_tracks may be queried, not app_setting"):
        chat_sql.check("SELECT * FROM app_setting")


def test_migration_without_the_right_to_grant_roles(env, postgres_admin_url):
    """A Sonarium user that may not create or grant roles: the migration passes with a warning, the
    tool refuses and names the role; after an administrator's GRANT it works."""
    from tests.conftest import _with_database
    user = f"sonarium_plain_{uuid.uuid4().hex[:8]}"
    name = f"sonarium_test_plain_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_admin_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{user}" LOGIN')
        cursor.execute(f'CREATE DATABASE "{name}" OWNER "{user}"')
    parts = urlsplit(_with_database(postgres_admin_url, name))
    url = urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))
    from db import migrate
    from db import session as db_session
    try:
        try:
            psycopg2.connect(url).close()
        except psycopg2.OperationalError:
            pytest.skip(reason="the test server does not let a new role sign in without a password")
        db_session.configure(url)
        migrate.upgrade()
        with pytest.raises(ChatSqlUnavailable, match="sonarium_chat_reader"):
            chat_sql.run("SELECT id FROM chat_tracks")
        # what README tells the operator to run as a superuser
        with admin.cursor() as cursor:
            cursor.execute(f'GRANT {chat_sql.CHAT_ROLE} TO "{user}"')
        owner = psycopg2.connect(_with_database(postgres_admin_url, name))
        owner.autocommit = True
        with owner.cursor() as cursor:
            cursor.execute(f"GRANT SELECT ON chat_tracks TO {chat_sql.CHAT_ROLE}")
            cursor.execute(f"ALTER FUNCTION sonarium_chat_rows(text) OWNER TO {chat_sql.CHAT_ROLE}")
            cursor.execute("ALTER FUNCTION sonarium_chat_rows(text) SECURITY DEFINER")
        owner.close()
        assert chat_sql.run("SELECT id FROM chat_tracks") == []
    finally:
        db_session.configure(env["DATABASE_URL"])
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'DROP ROLE IF EXISTS "{user}"')
        admin.close()
