"""The chat's SQL tool: one SELECT a language model wrote, over the view `chat_tracks`.

Two guards, each meant to stop a hostile query alone:

1. `check(sql)` -- a sqlglot allowlist: exactly one statement, a SELECT (or a
   UNION/INTERSECT/EXCEPT of them); FROM only `chat_tracks` (CTEs and
   subqueries allowed, over it); no schema-qualified names, no system names
   (pg_*, information_schema); only the functions in ALLOWED_FUNCTIONS; no
   locking clause, no INTO, no recursive CTE, no VALUES/LATERAL/table
   functions, no unicode-escape strings, casts only to ALLOWED_CASTS; it must read the view; at most MAX_TABLE_REFERENCES references to the view (a self-join
   is fine, a cross-join explosion is not); LIMIT forced to at most MAX_ROWS.
   It returns the SQL as sqlglot writes it back (comments dropped).
2. `execute(sql)` -- the database: the query runs in its own READ ONLY
   transaction with a STATEMENT_TIMEOUT, under the NOLOGIN role CHAT_ROLE
   that may only SELECT from `chat_tracks`, through the function
   `sonarium_chat_rows(text)` (migration 0006). The server parses the string
   as exactly one row-returning statement (a smuggled `; COMMIT; ...` cannot
   leave the transaction or the role), the function stops after MAX_ROWS
   rows, and, being SECURITY DEFINER and owned by CHAT_ROLE, it runs the query
   as the role where PostgreSQL refuses any change of role (SET LOCAL ROLE
   alone is no sandbox: set_config('role', ...) goes back to the session
   user). The connection is closed afterwards, not pooled, so nothing a query
   left in its session (an advisory lock, a LISTEN) outlives it.

`run(sql, params)` is check() then execute(). Every failure is an UnsafeQuery
(refused before running) or a QueryFailed (the database said no, or time ran
out), with a plain message; ChatSqlUnavailable (a QueryFailed) means the role
is missing, as on an external PostgreSQL where Sonarium may not create roles
(see README, "The chat's SQL tool").

The view's columns (VIEW_COLUMNS) and the tag order the model needs to read
`msd` and `mtt` (1-based: msd[1] is MSD_LABELS[0]) are in `describe_view()`.

"""
from __future__ import annotations

import logging
from typing import Any

import sqlglot
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlglot import exp

from analysis.labels import MSD_LABELS, MTT_LABELS
from db import session as db_session
from db.models import MOOD_COLUMNS

log = logging.getLogger(__name__)

CHAT_ROLE = "sonarium_chat_reader"   # created by migration 0006 (which repeats the name)
VIEW = "chat_tracks"
MAX_ROWS = 200
MAX_TABLE_REFERENCES = 3
MAX_QUERY_CHARS = 20_000   # parsing is linear but not free: bound the validator's own work
STATEMENT_TIMEOUT = "2s"

VIEW_COLUMNS: dict[str, str] = {
    "id": "bigint, the track's id",
    "item_id": "text, the media server's id",
    "title": "text", "artist": "text", "album": "text",
    "year": "smallint or null", "duration_s": "float, seconds",
    "tempo_bpm": "float", "energy": "float, 0..1",
    "musical_key": "text, one of C C# D D# E F F# G G# A A# B", "scale": "text, major or minor",
    "loudness_lufs": "real, integrated loudness",
    **{mood: "real, 0..1 mood score" for mood in MOOD_COLUMNS},
    "msd": "real[50], tag probabilities in MSD_LABELS order, 1-based (msd[1] = 'rock')",
    "mtt": "real[50], tag probabilities in MTT_LABELS order, 1-based (mtt[1] = 'guitar')",
}

# Functions a query may call, as sqlglot names them (its expression classes), and the few it
# leaves as plain names. Aggregates, window ranking, math, string basics, array access.
# Nothing that sleeps, reads files or large objects, runs SQL text, or reads or sets settings/roles.
ALLOWED_FUNCTIONS: frozenset[str] = frozenset({
    # aggregates
    "Count", "Sum", "Avg", "Min", "Max", "Stddev", "StddevPop", "StddevSamp", "Variance", "VariancePop",
    "LogicalAnd", "LogicalOr", "ArrayAgg", "GroupConcat", "PercentileCont", "PercentileDisc",
    # window ranking
    "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead", "FirstValue",
    "LastValue",
    # math
    "Abs", "Round", "Floor", "Ceil", "Sqrt", "Cbrt", "Pow", "Ln", "Log", "Exp", "Sign", "Trunc", "Pi",
    "Greatest", "Least", "WidthBucket", "Rand",
    # operators sqlglot models as functions, and conditionals and casts
    "And", "Or", "Not", "Coalesce", "Nullif", "Case", "If", "Cast", "Exists", "Any", "All",
    # strings
    "Lower", "Upper", "Initcap", "Length", "Trim", "Substring", "Concat", "StrPosition", "Replace",
    "Left", "Right", "SplitPart",
    # arrays (msd, mtt)
    "Array", "ArraySize", "ArrayPosition", "ArrayToString", "ArrayContains", "ArrayContainsAll", "ArrayContainedBy", "ArrayOverlaps",
    # plain names sqlglot has no class for
    "cardinality", "every",
})

# Statement-level or clause nodes that are never part of a plain query.
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    exp.DML, exp.DDL, exp.Command, exp.Into, exp.Lock, exp.Copy, exp.Set, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Values, exp.Lateral, exp.Unnest, exp.Dot, exp.Parameter, exp.SessionParameter,
    exp.Fetch, exp.UnicodeString,
)

# Types a value may be cast to (x::int, CAST(x AS text)); not the reg* and oid types, which look names up.
ALLOWED_CASTS: frozenset[str] = frozenset({
    "INT", "BIGINT", "SMALLINT", "DECIMAL", "FLOAT", "DOUBLE", "TEXT", "VARCHAR", "CHAR", "BOOLEAN",
})

_SYSTEM_PREFIXES = ("pg_", "information_schema", "sql_")


class UnsafeQuery(ValueError):
    """The query was refused before it ran; str() is a plain reason."""


class QueryFailed(RuntimeError):
    """The database refused or stopped the query; str() is a plain reason."""


class ChatSqlUnavailable(QueryFailed):
    """The chat SQL tool cannot run here (its role is missing or not granted)."""


def describe_view() -> str:
    """The view's columns and the tag order, for a model's tool description."""
    lines = [f"{name}: {kind}" for name, kind in VIEW_COLUMNS.items()]
    lines.append("MSD_LABELS: " + ", ".join(f"{i}={label}" for i, label in enumerate(MSD_LABELS, 1)))
    lines.append("MTT_LABELS: " + ", ".join(f"{i}={label}" for i, label in enumerate(MTT_LABELS, 1)))
    return "\n".join(lines)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return type(node).__name__


def _is_system_name(name: str) -> bool:
    return name.lower().startswith(_SYSTEM_PREFIXES)


def _parse(sql: str) -> exp.Expression:
    if not isinstance(sql, str) or not sql.strip():
        raise UnsafeQuery("the query is empty")
    if "\x00" in sql:
        raise UnsafeQuery("the query contains a NUL character")
    if len(sql) > MAX_QUERY_CHARS:
        raise UnsafeQuery(f"the query is longer than {MAX_QUERY_CHARS} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as error:
        raise UnsafeQuery(f"not a query this tool understands ({str(error).splitlines()[0][:120]})") from None
    except Exception:   # sqlglot bugs on odd input: refuse, never crash
        raise UnsafeQuery("not a query this tool understands") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"exactly one statement is allowed, found {len(statements)}")
    return statements[0]


def _check_tree(tree: exp.Expression) -> None:
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise UnsafeQuery(f"only SELECT is allowed, not {tree.key.upper()}")
    cte_names = set()
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafeQuery(f"{node.key.upper()} is not allowed in a chat query")
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise UnsafeQuery("recursive CTEs are not allowed")
        if isinstance(node, exp.CTE):
            cte_names.add(node.alias_or_name.lower())
        if isinstance(node, exp.Func) and _function_name(node) not in ALLOWED_FUNCTIONS:
            shown = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            raise UnsafeQuery(f"function {shown.lower()} is not allowed")
        if isinstance(node, exp.Cast) and not (isinstance(node.to, exp.DataType)
                                               and getattr(node.to.this, "name", None) in ALLOWED_CASTS):
            raise UnsafeQuery(f"a cast to {node.to.sql(dialect='postgres')} is not allowed")
        if isinstance(node, exp.Identifier) and _is_system_name(node.name):
            raise UnsafeQuery(f"system name {node.name} is not allowed")
        if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
            raise UnsafeQuery("schema-qualified names are not allowed")
        if isinstance(node, (exp.From, exp.Join)):
            source = node.this
            if not isinstance(source, (exp.Table, exp.Subquery)):
                raise UnsafeQuery(f"FROM may only name {VIEW}, a CTE or a subquery")
    references = 0
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise UnsafeQuery(f"FROM may only name {VIEW}, a CTE or a subquery")
        if table.args.get("db") or table.args.get("catalog"):
            raise UnsafeQuery("schema-qualified names are not allowed")
        name = table.name.lower()
        if name == VIEW and name not in cte_names:
            references += 1
        elif name not in cte_names:
            raise UnsafeQuery(f"only the view {VIEW} may be queried, not {table.name}")
    if references == 0:
        raise UnsafeQuery(f"a chat query must read the view {VIEW}")
    if references > MAX_TABLE_REFERENCES:
        raise UnsafeQuery(f"at most {MAX_TABLE_REFERENCES} references to {VIEW} are allowed")


def _force_limit(tree: exp.Expression) -> None:
    limit = tree.args.get("limit")
    value = None
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) \
            and not limit.expression.is_string:
        try:
            value = int(limit.expression.this)
        except ValueError:
            value = None
    if value is None or value < 0 or value > MAX_ROWS:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(MAX_ROWS)))


def _tree(sql: str) -> exp.Expression:
    tree = _parse(sql)
    _check_tree(tree)
    _force_limit(tree)
    return tree


def check(sql: str) -> str:
    """The query made safe (normalised, LIMIT at most MAX_ROWS), or UnsafeQuery with the reason.

    `:name` placeholders are kept; run() binds them.
    """
    return _tree(sql).sql(dialect="postgres", comments=False)


def check_track_query(sql: str) -> str:
    """check(), and that the query returns a column named `id` (a track id), as a plan's query must."""
    tree = _tree(sql)
    if "id" not in tree.named_selects and not tree.is_star:
        raise UnsafeQuery("the query must return the column id (the tracks' ids)")
    return tree.sql(dialect="postgres", comments=False)


def track_ids(sql: str) -> list[int]:
    """run() a query of check_track_query() and the whole-number ids it returned, in its order, once each.

    Only the ids leave this function: whatever else the rows hold never reaches an answer.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise UnsafeQuery("the query is empty")
    check_track_query(sql)
    found: dict[int, None] = {}
    for row in run(sql):
        value = row.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            found.setdefault(value)
    return list(found)


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnsafeQuery("parameters must be finite numbers")
        return exp.Literal.number(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise UnsafeQuery("a parameter contains a NUL character")
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[_literal(item) for item in value])
    raise UnsafeQuery(f"parameters must be numbers, strings, booleans, null or lists, not {type(value).__name__}")


def _bind(tree: exp.Expression, params: dict[str, Any]) -> exp.Expression:
    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            name = node.name
            if name not in params:
                raise UnsafeQuery(f"parameter :{name} has no value")
            return _literal(params[name])
        return node
    return tree.transform(replace)


def run(sql: str, params: dict[str, Any] | None = None) -> list[dict]:
    """check() the query, bind `:name` parameters as literals, and execute() it."""
    tree = _tree(sql)
    tree = _bind(tree, params or {})
    return execute(tree.sql(dialect="postgres", comments=False))


def _plain(error: DBAPIError) -> str:
    diag = getattr(error.orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(error.orig).splitlines()[0]
    return message.strip()


def _unavailable(reason: str) -> ChatSqlUnavailable:
    return ChatSqlUnavailable(
        f"the chat SQL tool is off: {reason}. An administrator must create the NOLOGIN role {CHAT_ROLE}, "
        f"grant it to Sonarium's database user and grant it SELECT on {VIEW} (README, \"The chat's SQL tool\")")


def execute(sql: str) -> list[dict]:
    """Run one query string under the database's guards alone (no validation here).

    READ ONLY transaction, statement timeout, SET LOCAL ROLE CHAT_ROLE, the string parsed by the server as
    one row-returning statement, at most MAX_ROWS rows; always rolled back, and the connection closed.
    """
    if not isinstance(sql, str) or "\x00" in sql:
        raise QueryFailed("the query must be text without NUL characters")
    connection = db_session.engine().connect()
    try:
        transaction = connection.begin()
        try:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
            connection.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
            ready = connection.exec_driver_sql(
                "SELECT p.prosecdef AND pg_get_userbyid(p.proowner) = %(role)s, "
                "CASE WHEN to_regrole(%(role)s) IS NULL OR to_regclass(%(view)s) IS NULL THEN false "
                "ELSE has_table_privilege(%(role)s, %(view)s, 'SELECT') END "
                "FROM pg_proc p WHERE p.oid = to_regprocedure('sonarium_chat_rows(text)')",
                {"role": CHAT_ROLE, "view": VIEW}).first()
            if not ready or not ready[0]:
                raise _unavailable(f"the function sonarium_chat_rows(text) is missing or not owned by {CHAT_ROLE}")
            if not ready[1]:
                raise _unavailable(f"the view {VIEW} is missing or its role may not read it")
            try:
                connection.exec_driver_sql(f"SET LOCAL ROLE {CHAT_ROLE}")
            except DBAPIError as error:
                raise _unavailable(_plain(error)) from None
            try:
                rows = connection.execute(text("SELECT sonarium_chat_rows(:query)"), {"query": sql}).scalars().all()
            except DBAPIError as error:
                code = getattr(error.orig, "pgcode", None)
                message = _plain(error)
                if code == "57014":
                    raise QueryFailed(f"the query ran longer than {STATEMENT_TIMEOUT} and was stopped") from None
                raise QueryFailed(f"the database refused the query: {message}") from None
            role = connection.exec_driver_sql("SELECT current_user").scalar()
            if role != CHAT_ROLE:
                log.warning("a chat query changed its role to %s; its rows were discarded", role)
                raise QueryFailed("the query changed its database role; its rows were discarded")
            return [dict(row) if isinstance(row, dict) else {"value": row} for row in rows]
        finally:
            transaction.rollback()
    except DBAPIError as error:   # the connection itself failed
        raise QueryFailed(f"the database could not run the query: {_plain(error)}") from None
    finally:
        connection.invalidate()
        connection.close()
