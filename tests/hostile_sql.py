"""Hostile SQL a language model might be made to write, for tests/test_chat_sql.py and
tests/test_chat_sql_tool.py, with the helpers both use.

HOSTILE: every string must be refused by db.chat_sql.check(), and, run with the
validator bypassed (db.chat_sql.execute), must neither write, nor read what the
role may not read, nor run past the statement timeout.

CLAMPED: legitimate in shape but asking for too many rows: check() lowers their LIMIT.
"""

import psycopg2

from db import chat_sql
from tests.library import make_library

SECRET = "s3cret-hostile-probe"   # the value test_chat_sql saves in app_setting; no answer may contain it

WRITES = [
    "INSERT INTO track (provider, item_id) VALUES ('x', 'y')",
    "INSERT INTO app_setting (name, value) VALUES ('AI_API_KEY', 'stolen')",
    "UPDATE track SET title = 'pwned'",
    "UPDATE app_setting SET value = 'x'",
    "DELETE FROM track",
    "DELETE FROM account",
    "MERGE INTO track t USING track s ON t.id = s.id WHEN MATCHED THEN DELETE",
    "TRUNCATE track CASCADE",
    "TRUNCATE app_setting",
    "INSERT INTO account (username, password_hash, role) VALUES ('evil', 'x', 'admin')",
    "UPDATE account SET role = 'admin'",
    "DELETE FROM chat_tracks",
]

DDL = [
    "DROP TABLE track CASCADE",
    "DROP VIEW chat_tracks",
    "CREATE TABLE evil (x int)",
    "CREATE TEMP TABLE evil AS SELECT * FROM chat_tracks",
    "ALTER TABLE track DROP COLUMN title",
    "CREATE ROLE evil SUPERUSER LOGIN PASSWORD 'x'",
    "ALTER ROLE sonarium_chat_reader SUPERUSER",
    "GRANT ALL ON app_setting TO sonarium_chat_reader",
    "GRANT postgres TO sonarium_chat_reader",
    "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE EXTENSION dblink",
    "DROP SCHEMA public CASCADE",
    "COMMENT ON TABLE track IS 'x'",
    "CREATE INDEX evil ON track (title)",
    "REINDEX TABLE track",
]

SEVERAL_STATEMENTS = [
    "SELECT 1; DELETE FROM track",
    "SELECT id FROM chat_tracks; DROP TABLE track",
    "SELECT id FROM chat_tracks LIMIT 1; COMMIT; DELETE FROM track",
    "SELECT 1; ROLLBACK; DELETE FROM app_setting",
    "SELECT 1; RESET ROLE; SELECT * FROM app_setting",
    "SELECT 1; SET ROLE postgres; SELECT value FROM app_setting",
    "SELECT 1; END; UPDATE track SET title = 'x'",
    "SELECT title FROM chat_tracks;SELECT value FROM app_setting",
    "SELECT 1 ; ; DELETE FROM track",
    "SELECT 1; COMMIT; SET SESSION statement_timeout = 0; SELECT pg_sleep(10)",
    "SELECT 1; ABORT; DELETE FROM playlist",
    "SELECT 1) q; DELETE FROM track; SELECT * FROM (SELECT 1",
]

COMMENT_SMUGGLING = [
    "SELECT 1 /* ; */ ; DELETE FROM track",
    "SELECT 1 -- harmless\n; DELETE FROM track",
    "SELECT 1 /* nested /* comment */ still */ ; DROP TABLE track",
    "/**/DELETE/**/FROM/**/track",
    "SELECT id FROM chat_tracks --\n; UPDATE track SET title = 'x'",
    "SELECT id FROM chat_tracks /*\n*/; COMMIT; DELETE FROM track",
    "SELECT 1 /*'*/; DELETE FROM track; /*'*/",
    "SELECT '--' ; DELETE FROM track",
]

CTE_WRITES = [
    "WITH d AS (DELETE FROM track RETURNING id) SELECT count(*) FROM d",
    "WITH u AS (UPDATE app_setting SET value = 'x' RETURNING name) SELECT * FROM u",
    "WITH i AS (INSERT INTO account (username, password_hash, role) VALUES ('e','x','admin') RETURNING id) "
    "SELECT * FROM i",
    "WITH x AS (SELECT * FROM app_setting) SELECT * FROM x",
    "WITH x AS (SELECT id FROM chat_tracks), d AS (DELETE FROM track WHERE id IN (SELECT id FROM x) "
    "RETURNING 1) SELECT * FROM d",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "WITH RECURSIVE bomb AS (SELECT id FROM chat_tracks UNION ALL SELECT b.id FROM bomb b, chat_tracks) "
    "SELECT count(*) FROM bomb",
]

SLEEPS = [
    "SELECT pg_sleep(10)",
    "SELECT id FROM chat_tracks WHERE pg_sleep(10) IS NOT NULL",
    "SELECT pg_sleep_for('10 seconds')",
    "SELECT pg_sleep_until(now() + interval '10 seconds')",
    "SELECT \"pg_sleep\"(10)",
    "SELECT PG_SLEEP(10)",
    "SELECT id FROM chat_tracks ORDER BY pg_sleep(0.5)",
    "SELECT (SELECT pg_sleep(10)) AS x",
]

FILES = [
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT pg_ls_dir('.')",
    "SELECT pg_stat_file('postgresql.conf')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/evil')",
    "SELECT lo_get(1)",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT * FROM pg_ls_logdir()",
    "SELECT pg_read_file('postgresql.auto.conf', 0, 1000)",
]

SETTINGS_AND_ROLES = [
    "SET ROLE postgres",
    "RESET ROLE",
    "SET SESSION AUTHORIZATION postgres",
    "SET statement_timeout = 0",
    "SELECT set_config('statement_timeout', '0', false)",
    "SELECT set_config('role', 'postgres', true)",
    "SELECT set_config('role', 'postgres', true), (SELECT count(*) FROM app_setting)",
    "SELECT set_config('session_authorization', 'postgres', true)",
    "SELECT current_setting('data_directory')",
    "SELECT current_setting('role')",
    "SELECT set_config('transaction_read_only', 'off', true)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT id FROM chat_tracks WHERE set_config('role', 'postgres', true) IS NOT NULL",
    "SELECT set_config('role', 'postgres', true) AS a, "
    "query_to_xml('SELECT value FROM app_setting', true, true, '') AS b, "
    "set_config('role', 'sonarium_chat_reader', true) AS c",
    "SELECT query_to_xml('SELECT * FROM app_setting', true, true, '')",
    "SELECT table_to_xml('app_setting', true, true, '')",
    "SELECT database_to_xml(true, true, '')",
    "SELECT pg_reload_conf()",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
    "SELECT pg_cancel_backend(1)",
    "SELECT pg_advisory_lock(1347305810)",
    "SELECT txid_current()",
    "SELECT nextval('track_id_seq')",
    "SELECT dblink('dbname=postgres', 'DELETE FROM track')",
    "SELECT dblink_exec('DELETE FROM track')",
    "SELECT pg_notify('evil', 'x')",
    "SELECT ts_stat('SELECT value::tsvector FROM app_setting')",
    "SELECT version()",
    "SELECT current_user",
    "SELECT session_user",
    "SELECT inet_server_addr()",
]

CATALOGS = [
    "SELECT * FROM pg_authid",
    "SELECT rolname, rolpassword FROM pg_authid",
    "SELECT * FROM pg_roles",
    "SELECT * FROM pg_settings",
    "SELECT * FROM pg_stat_activity",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM information_schema.columns WHERE table_name = 'app_setting'",
    "SELECT * FROM pg_catalog.pg_class",
    "SELECT relname FROM pg_class",
    "SELECT * FROM pg_shadow",
    "SELECT * FROM pg_user",
    "SELECT prosrc FROM pg_proc",
    "SELECT * FROM pg_hba_file_rules",
    "SELECT * FROM pg_file_settings",
    "SELECT id FROM chat_tracks WHERE EXISTS (SELECT 1 FROM pg_authid)",
    "SELECT 'app_setting'::regclass",
    "SELECT to_regclass('app_setting')",
]

OTHER_TABLES = [
    "SELECT * FROM app_setting",
    "SELECT value FROM app_setting WHERE name = 'AI_API_KEY'",
    "SELECT * FROM account",
    "SELECT password_hash FROM account",
    "SELECT * FROM api_token",
    "SELECT * FROM setup_code",
    "SELECT * FROM track",
    "SELECT * FROM track_tags",
    "SELECT * FROM embedding",
    "SELECT * FROM task",
    "SELECT * FROM alembic_version",
    "SELECT c.title, a.value FROM chat_tracks c JOIN app_setting a ON true",
    "SELECT id FROM chat_tracks UNION SELECT id FROM account",
    "SELECT title FROM chat_tracks WHERE title IN (SELECT value FROM app_setting)",
    "SELECT (SELECT value FROM app_setting LIMIT 1) FROM chat_tracks",
    "TABLE app_setting",
    "SELECT * FROM chat_tracks LIMIT (SELECT count(*) FROM track)",
]

SCHEMA_QUALIFIED = [
    "SELECT * FROM public.chat_tracks",
    "SELECT * FROM public.app_setting",
    "SELECT * FROM pg_catalog.pg_authid",
    "SELECT pg_catalog.pg_sleep(10)",
    "SELECT * FROM sonarium_test.public.track",
    "SELECT public.sonarium_chat_rows('SELECT * FROM app_setting')",
    "SELECT sonarium_chat_rows('DELETE FROM track')",
    "SELECT * FROM \"public\".\"app_setting\"",
]

LOCKING = [
    "SELECT * FROM chat_tracks FOR UPDATE",
    "SELECT * FROM chat_tracks FOR SHARE",
    "SELECT * FROM chat_tracks FOR NO KEY UPDATE NOWAIT",
    "SELECT * FROM chat_tracks FOR KEY SHARE SKIP LOCKED",
    "LOCK TABLE track IN ACCESS EXCLUSIVE MODE",
]

INTO = [
    "SELECT * INTO evil FROM chat_tracks",
    "SELECT * INTO TEMP evil FROM chat_tracks",
    "SELECT id INTO UNLOGGED evil FROM chat_tracks",
    "CREATE TABLE evil AS SELECT * FROM chat_tracks",
]

COPY = [
    "COPY track TO STDOUT",
    "COPY app_setting TO '/tmp/settings.csv'",
    "COPY (SELECT * FROM chat_tracks) TO PROGRAM 'rm -rf /'",
    "COPY track FROM '/etc/passwd'",
    "COPY (SELECT 1) TO PROGRAM 'id'",
]

EXPLOSIONS = [
    "SELECT count(*) FROM chat_tracks a, chat_tracks b, chat_tracks c, chat_tracks d, chat_tracks e",
    "SELECT count(*) FROM generate_series(1, 1000000000)",
    "SELECT count(*) FROM chat_tracks, generate_series(1, 100000000)",
    "SELECT * FROM chat_tracks CROSS JOIN generate_series(1, 100000000) g",
    "SELECT repeat('x', 1000000000)",
    "SELECT count(*) FROM chat_tracks a JOIN chat_tracks b ON true JOIN chat_tracks c ON true "
    "JOIN chat_tracks d ON true",
    "SELECT unnest(array_fill(1, ARRAY[10000000]))",
    "SELECT * FROM unnest(ARRAY[1,2,3])",
    "SELECT id FROM chat_tracks WHERE " + " OR ".join(f"title = 'x{i}'" for i in range(2000)),   # too long
    "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " FROM chat_tracks",   # nesting past the parser's depth
]

QUOTING_TRICKS = [
    "SELECT * FROM U&\"\\0061pp_setting\"",
    "SELECT U&'\\0070g_sleep'",
    "SELECT * FROM \"app_setting\"",
    "SELECT * FROM \"APP_SETTING\"",
    "SELECT * FROM app\u200b_setting",
    "SELECT * FROM ａｐｐ_setting",
    "SELECT * FROM \"pg_authid\"",
    "SELECT E'\\x27'; DELETE FROM track",
    "SELECT 'a'';DELETE FROM track;--'",
    "SELECT * FROM chat_tracks WHERE title = '' OR 1=1; DROP TABLE track; --'",
    "SELECT * FROM chat_tracks\x00; DELETE FROM track",
    "\ufeffDELETE FROM track",
]

DOLLAR_QUOTING = [
    "SELECT $$; DELETE FROM track; $$",
    "SELECT $a$ x $a$; DELETE FROM track",
    "DO $$ BEGIN DELETE FROM track; END $$",
    "DO $x$ BEGIN EXECUTE 'DROP TABLE track'; END $x$",
    "SELECT $$a$$ ; SELECT value FROM app_setting",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM track; END $$",
]

UTILITY = [
    "CALL evil()",
    "EXECUTE evil",
    "PREPARE evil AS DELETE FROM track",
    "DEALLOCATE ALL",
    "LISTEN evil",
    "NOTIFY evil, 'x'",
    "UNLISTEN *",
    "VACUUM FULL track",
    "ANALYZE track",
    "CLUSTER track",
    "CHECKPOINT",
    "DISCARD ALL",
    "EXPLAIN ANALYZE DELETE FROM track",
    "SHOW ALL",
    "BEGIN",
    "COMMIT",
    "START TRANSACTION READ WRITE",
    "SECURITY LABEL ON TABLE track IS 'x'",
    "REFRESH MATERIALIZED VIEW evil",
    "IMPORT FOREIGN SCHEMA public FROM SERVER evil INTO public",
    "SELECT * FROM chat_tracks, LATERAL (SELECT value FROM app_setting) s",
    "VALUES (1), (2)",
    "SELECT * FROM (VALUES (1)) v",
    "",
    "   ",
    ";",
    "SELECT",
]

HOSTILE: list[str] = [
    *WRITES, *DDL, *SEVERAL_STATEMENTS, *COMMENT_SMUGGLING, *CTE_WRITES, *SLEEPS, *FILES, *SETTINGS_AND_ROLES,
    *CATALOGS, *OTHER_TABLES, *SCHEMA_QUALIFIED, *LOCKING, *INTO, *COPY, *EXPLOSIONS, *QUOTING_TRICKS,
    *DOLLAR_QUOTING, *UTILITY,
]

CLAMPED: list[str] = [
    "SELECT * FROM chat_tracks LIMIT 1000000",
    "SELECT a.id, b.id FROM chat_tracks a, chat_tracks b LIMIT 99999999999999999999",
    "SELECT a.id FROM chat_tracks a, chat_tracks b LIMIT ALL",
    "SELECT a.id FROM chat_tracks a CROSS JOIN chat_tracks b",
    "SELECT a.id FROM chat_tracks a, chat_tracks b LIMIT -1",
    "SELECT a.id FROM chat_tracks a, chat_tracks b LIMIT 1e9",
    "SELECT a.id FROM chat_tracks a, chat_tracks b LIMIT NULL",
    "SELECT id FROM chat_tracks UNION ALL SELECT a.id FROM chat_tracks a, chat_tracks b",
]


def make_secret_library():
    """An analysed library with tags, a secret setting and an account whose hash is the secret too."""
    from db.models import Account, AppSetting
    from db.session import session_scope
    made = make_library(with_tags=True)
    with session_scope() as session:
        session.add(AppSetting(name="AI_API_KEY", value=SECRET, encrypted=False))
        session.add(Account(username="victim", password_hash=SECRET + "-hash", role="admin"))
    return made


def database_snapshot(url: str) -> dict:
    """Every public table's row count and content hash, the grants and functions, the chat role's powers."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            tables = [name for (name,) in cursor.fetchall()]
            state = {}
            for name in tables:
                # A signed-in client's requests stamp its token's last use: everything else must stay.
                row = "(t.id, t.account_id, t.name, t.token_sha256)" if name == "api_token" else "t"
                cursor.execute(f'SELECT count(*), md5(coalesce(string_agg({row}::text, \'|\' '
                               f'ORDER BY {row}::text), \'\')) FROM "{name}" t')
                state[name] = cursor.fetchone()
            cursor.execute("SELECT relname, relkind, relacl::text FROM pg_class "
                           "WHERE relnamespace = 'public'::regnamespace ORDER BY 1")
            state["pg_class"] = cursor.fetchall()
            cursor.execute("SELECT proname, proacl::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                           "ORDER BY 1")
            state["pg_proc"] = cursor.fetchall()
            cursor.execute("SELECT rolsuper, rolcanlogin, rolcreaterole, rolcreatedb, "
                           "(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) "
                           "FROM pg_roles r WHERE rolname = %s", (chat_sql.CHAT_ROLE,))
            state["role"] = cursor.fetchall()
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                           "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
            state["advisory_locks"] = cursor.fetchone()
            return state
    finally:
        connection.close()
