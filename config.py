"""Sonarium settings: every knob comes from the environment, parsed strictly.

`load_settings()` reads the environment once, checks every value and raises
`ConfigError` naming the variable and what it accepts, so a bad deployment
stops at start-up instead of failing later in a worker.  `VARIABLES` is the one
list of what Sonarium reads; the deployment files are tested against it.

Variables marked `editable` can also be saved on the Settings page, where a
saved value overrides the environment: `settings_store.effective()` is the one
answer for those.  The rest hold for a process's whole life.

Secrets (passwords, tokens, the secret key) are kept out of `repr()` and out of
`Settings.public()`, which is all the API ever shows.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlsplit

from analysis.labels import MSD_LABELS, MTT_LABELS


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


MEDIASERVER_TYPES = ("local", "navidrome", "jellyfin", "emby", "lyrion")
AI_PROVIDERS = ("none", "ollama", "openai", "gemini")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ANALYSIS_PRECISIONS = ("auto", "float32")

# Unix socket paths are limited to 107 bytes on Linux; longer data dirs put
# their sockets under the temp dir instead (see `embedded_socket_dir`).
_MAX_SOCKET_PATH = 100


def _text(raw: str) -> str:
    return raw.strip()


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value
    return parse


def _number(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"a number from {low:g} to {high:g}") from None
        if not low <= value <= high:
            raise ValueError(f"a number from {low:g} to {high:g}")
        return value
    return parse


def _choice(options: tuple[str, ...], upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise ValueError("one of " + ", ".join(options))
        return value
    parse.options = options  # the settings page offers them as a list
    return parse


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false (also 1/0, yes/no, on/off)")


_MAX_URL_CHARS = 2000
_MAX_HOST_CHARS = 253   # the longest DNS name


def _name_suffix(raw: str) -> str:
    """Up to 20 printable characters, spaces kept (" (auto)" needs its leading one); "none" for no suffix."""
    if len(raw) > 20 or not raw.isprintable():
        raise ValueError("up to 20 printable characters, or none")
    return "" if raw.strip().lower() == "none" else raw


_MAX_LIST_ITEMS = 50


def _word_list(raw: str) -> tuple[str, ...]:
    """Comma-separated words or phrases (case ignored); empty or "none" for none."""
    words = tuple(dict.fromkeys(part.strip().casefold() for part in raw.split(",") if part.strip()))
    if words == ("none",):
        return ()
    if len(words) > _MAX_LIST_ITEMS or any(len(word) > 100 or not word.isprintable() for word in words):
        raise ValueError(f"up to {_MAX_LIST_ITEMS} words or phrases separated by commas, each at most 100 characters")
    return words


def _tag_list(raw: str) -> tuple[str, ...]:
    """Comma-separated tags of the analysis vocabularies (case ignored), in their own spelling."""
    known = {tag.casefold(): tag for tag in (*MSD_LABELS, *MTT_LABELS)}
    tags = _word_list(raw)
    unknown = [tag for tag in tags if tag not in known]
    if unknown:
        raise ValueError(f"tags of the analysis vocabularies separated by commas (unknown: {', '.join(unknown[:5])}); "
                         "the vocabularies are listed in analysis/labels.py")
    return tuple(known[tag] for tag in tags)


def _http_url(raw: str) -> str:
    expected = "an http:// or https:// URL with a host, e.g. http://192.168.1.5:4533"
    value = raw.strip().rstrip("/")
    if len(value) > _MAX_URL_CHARS:
        raise ValueError(f"{expected}, at most {_MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port   # port raises ValueError when out of range
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(expected)
    if len(host) > _MAX_HOST_CHARS or any(len(label) > 63 for label in host.split(".")):
        raise ValueError(f"{expected}; the host name is too long")
    return value


def _url_with_scheme(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        scheme = urlsplit(value).scheme
        if scheme not in schemes:
            raise ValueError("a URL starting with " + " or ".join(s + "://" for s in schemes))
        return value
    return parse


def _host_list(raw: str) -> tuple[str, ...]:
    hosts = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    if not hosts or any(" " in host or "/" in host for host in hosts):
        raise ValueError("host names separated by commas, e.g. music.example.org,192.168.1.5")
    return hosts


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("a filesystem path")
    return Path(raw.strip()).expanduser().resolve()


@dataclasses.dataclass(frozen=True)
class Variable:
    """One environment variable.

    `secret` keeps the value out of logs and answers; `editable` lets the
    Settings page save a value that overrides the environment.
    """

    name: str
    parse: Callable[[str], Any]
    default: str | None
    doc: str
    secret: bool = False
    editable: bool = False


# The one list of environment variables Sonarium reads.  A default of None
# means "unset": the setting is optional or derived (see load_settings).
VARIABLES: tuple[Variable, ...] = (
    Variable("SERVICE_TYPE", _choice(("all", "web", "worker")), "all",
             "What this machine runs: all (web, workers, reconciler), web, or worker (workers + reconciler)."),
    Variable("SONARIUM_DATA_DIR", _path, "./data",
             "Where the embedded database, Redis data, logs and the secret key live."),
    Variable("DATABASE_URL", _url_with_scheme("postgresql", "postgresql+psycopg2"), None,
             "PostgreSQL URL; unset starts a private PostgreSQL in the data dir."),
    Variable("REDIS_URL", _url_with_scheme("redis", "rediss", "unix"), None,
             "Redis URL; unset starts a private Valkey server in the data dir."),
    Variable("MEDIASERVER_TYPE", _choice(MEDIASERVER_TYPES), "local",
             "Where the library lives: " + " | ".join(MEDIASERVER_TYPES) + ".", editable=True),
    Variable("MUSIC_DIR", _path, "./music", "The music folder read by the local provider.", editable=True),
    Variable("PLAYLIST_DIR", _path, None,
             "Where the local provider writes .m3u8 playlists; unset: <data dir>/playlists.", editable=True),
    Variable("LOCAL_PLAY_LOG", _path, None,
             "Optional play log for the local provider's listening history (ISO time, tab, file path per line).",
             editable=True),
    Variable("NAVIDROME_URL", _http_url, None, "Navidrome (or any Subsonic server) base URL.", editable=True),
    Variable("NAVIDROME_USER", _text, None, "Subsonic user name.", editable=True),
    Variable("NAVIDROME_PASSWORD", _text, None, "Subsonic password.", secret=True, editable=True),
    Variable("NAVIDROME_AUTH", _choice(("token", "password")), "token",
             "Subsonic auth: token (salted md5, Navidrome's default) or password (e.g. supysonic).",
             editable=True),
    Variable("JELLYFIN_URL", _http_url, None, "Jellyfin base URL.", editable=True),
    Variable("JELLYFIN_USER_ID", _text, None, "Jellyfin user id.", editable=True),
    Variable("JELLYFIN_TOKEN", _text, None, "Jellyfin API key.", secret=True, editable=True),
    Variable("EMBY_URL", _http_url, None, "Emby base URL.", editable=True),
    Variable("EMBY_USER_ID", _text, None, "Emby user id.", editable=True),
    Variable("EMBY_TOKEN", _text, None, "Emby API key.", secret=True, editable=True),
    Variable("LYRION_URL", _http_url, None, "Lyrion Music Server base URL.", editable=True),
    Variable("AI_PROVIDER", _choice(AI_PROVIDERS), "none",
             "Language model for the AI features: " + " | ".join(AI_PROVIDERS) + ".", editable=True),
    Variable("AI_URL", _http_url, None, "AI provider base URL; unset: the provider's usual address.",
             editable=True),
    Variable("AI_MODEL", _text, None, "AI model name; unset: the provider's default.", editable=True),
    Variable("AI_API_KEY", _text, None, "AI provider API key (OpenAI, Gemini).", secret=True, editable=True),
    Variable("CLUSTERING_NAME_SUFFIX", _name_suffix, " (auto)",
             "Added to the names of new automatic playlists, so they are told apart from yours on the media "
             "server (none: no suffix); a playlist kept from an earlier run keeps its name.", editable=True),
    Variable("PLAYLIST_MIN_SECONDS", _integer(0, 3600), "30",
             "Songs shorter than this many seconds (jingles, test tones) never enter a generated playlist "
             "(0: no limit).", editable=True),
    Variable("PLAYLIST_MAX_SECONDS", _integer(0, 86400), "1800",
             "Songs longer than this many seconds (DJ mixes, audiobook chapters) never enter a generated "
             "playlist (0: no limit).", editable=True),
    Variable("PLAYLIST_EXCLUDE_WORDS", _word_list, "",
             "Words or phrases, separated by commas: a song whose title, artist, album or (local files) folder "
             "holds one never enters a generated playlist, e.g. audiobook, podcast, test tone.", editable=True),
    Variable("PLAYLIST_EXCLUDE_TAGS", _tag_list, "",
             "Analysis tags, separated by commas: a song the analysis tags with one never enters a generated "
             "playlist, e.g. opera, choral.", editable=True),
    Variable("WEB_HOST", _text, "127.0.0.1", "Address the web server listens on."),
    Variable("WEB_PORT", _integer(1, 65535), "8000", "Port the web server listens on."),
    Variable("ALLOWED_HOSTS", _host_list, None,
             "Host names the web app answers to, comma-separated (.example.org also allows its subdomains; "
             "* allows any, unsafe); unset: WEB_HOST. localhost, 127.0.0.1 and ::1 are always allowed, and any "
             "IP address when WEB_HOST listens on every interface. Other names get 400, which stops DNS "
             "rebinding."),
    Variable("TRUSTED_PROXIES", _integer(0, 5), "0",
             "Reverse proxies in front of Sonarium whose X-Forwarded-For/-Proto/-Host are believed "
             "(0: none). Behind an HTTPS proxy, set it so the session cookie is marked Secure."),
    Variable("ADMIN_USERNAME", _text, "admin", "Name of the admin account created from ADMIN_PASSWORD."),
    Variable("ADMIN_PASSWORD", _text, None,
             "Initial admin password for containers (from a Compose or K3S secret): the admin is created "
             "at start when no account exists. Unset: the start prints a one-time setup code instead.",
             secret=True),
    Variable("WEB_WORKERS", _integer(1, 32), "2", "gunicorn worker processes."),
    Variable("WEB_THREADS", _integer(1, 16), "2",
             "Threads per web worker that run the app once a request has been read whole (web_server.py): "
             "more keep pages responsive while a media server is slow; 1 serves the most similarity "
             "queries per second (they are CPU-bound)."),
    Variable("WEB_BODY_TIMEOUT_SECONDS", _number(1, 600), "30",
             "Time a client has to send a request's body; a slower one gets 408 and is dropped. Bodies are "
             "read before a web thread is taken, so slow clients never hold one."),
    Variable("WORKER_COUNT", _integer(1, 64), "2",
             "RQ worker processes for analysis and clustering (one more serves orchestration)."),
    Variable("LOG_LEVEL", _choice(LOG_LEVELS, upper=True), "INFO", "Logging level."),
    Variable("SECRET_KEY", _text, None,
             "Flask secret key; unset uses a random key kept in the data dir.", secret=True),
    Variable("TASK_MAX_ATTEMPTS", _integer(1, 20), "3",
             "How often a task whose worker died is re-queued before it fails."),
    Variable("TASK_HEARTBEAT_SECONDS", _number(0.2, 60), "2",
             "How often a running task writes its heartbeat, progress and log, and checks for cancellation."),
    Variable("TASK_DEAD_AFTER_SECONDS", _number(1, 3600), "30",
             "A running task whose heartbeat is older than this is treated as dead."),
    Variable("RECONCILE_INTERVAL_SECONDS", _number(0.5, 3600), "10",
             "How often the reconciler looks for dead or vanished tasks."),
    Variable("TASK_LOG_LINES", _integer(10, 10000), "200", "Log lines kept per task."),
    Variable("INDEX_RELOAD_SECONDS", _number(0, 3600), "3",
             "How often the web process checks for a newer similarity index (0: only at start)."),
    Variable("INDEX_UPDATE_SECONDS", _number(1, 86400), "60",
             "How often a running analysis adds its newly analysed tracks to the index."),
    Variable("MAP_REFIT_GROWTH", _number(0, 100), "0.2",
             "How much the library may grow, as a share of the tracks the music map was last fitted on, before "
             "the map task fits it afresh instead of placing the new tracks (0: any growth means a refit)."),
    Variable("ANALYSIS_PRECISION", _choice(ANALYSIS_PRECISIONS), "auto",
             "Arithmetic of the analysis models: auto = bfloat16 on OpenVINO where the CPU computes it natively "
             "(AVX-512 BF16 or AMX: about 1.7x faster, vectors r > 0.9999), else float32 on onnxruntime; "
             "float32 = always float32 on onnxruntime."),
    Variable("ANALYSIS_THREADS", _integer(1, 64), "1",
             "Inference threads per analysis worker (workers run in parallel; one thread each is fastest)."),
    Variable("MAX_QUEUED_CHILDREN", _integer(1, 10000), "50",
             "Child jobs a parent task keeps queued at once."),
)
_BY_NAME = {v.name: v for v in VARIABLES}
KNOWN_VARIABLES = frozenset(_BY_NAME)
EDITABLE_VARIABLES = frozenset(v.name for v in VARIABLES if v.editable)

# Which settings each media server needs; checked at start-up so a
# half-configured provider fails loudly instead of building broken URLs.
_REQUIRED_FOR_PROVIDER = {
    "local": ("MUSIC_DIR",),
    "navidrome": ("NAVIDROME_URL", "NAVIDROME_USER", "NAVIDROME_PASSWORD"),
    "jellyfin": ("JELLYFIN_URL", "JELLYFIN_USER_ID", "JELLYFIN_TOKEN"),
    "emby": ("EMBY_URL", "EMBY_USER_ID", "EMBY_TOKEN"),
    "lyrion": ("LYRION_URL",),
}


# The settings page's sections.  The local folder's settings are the folders,
# shown in a section of their own because the library scan reads MUSIC_DIR too.
FOLDER_VARIABLES = ("MUSIC_DIR", "PLAYLIST_DIR", "LOCAL_PLAY_LOG")
AI_VARIABLES = ("AI_PROVIDER", "AI_URL", "AI_MODEL", "AI_API_KEY")
PLAYLIST_VARIABLES = ("PLAYLIST_MIN_SECONDS", "PLAYLIST_MAX_SECONDS", "PLAYLIST_EXCLUDE_WORDS",
                      "PLAYLIST_EXCLUDE_TAGS", "CLUSTERING_NAME_SUFFIX")
PROVIDER_VARIABLES = {
    "local": (),
    "navidrome": ("NAVIDROME_URL", "NAVIDROME_USER", "NAVIDROME_PASSWORD", "NAVIDROME_AUTH"),
    "jellyfin": ("JELLYFIN_URL", "JELLYFIN_USER_ID", "JELLYFIN_TOKEN"),
    "emby": ("EMBY_URL", "EMBY_USER_ID", "EMBY_TOKEN"),
    "lyrion": ("LYRION_URL",),
}


# Where each secret may be sent: only to the server (and account) it was saved
# for.  A request that changes one of these must carry the secret itself.
SECRET_DESTINATIONS = {
    "NAVIDROME_PASSWORD": ("NAVIDROME_URL", "NAVIDROME_USER"),
    "JELLYFIN_TOKEN": ("JELLYFIN_URL", "JELLYFIN_USER_ID"),
    "EMBY_TOKEN": ("EMBY_URL", "EMBY_USER_ID"),
    "AI_API_KEY": ("AI_PROVIDER", "AI_URL"),
}


def variable(name: str) -> Variable:
    return _BY_NAME[name]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Parsed settings; attribute names are the lower-cased variable names."""

    values: Mapping[str, Any]
    embedded_database: bool
    embedded_redis: bool

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name.upper()]
        except KeyError:
            if name.upper() in EDITABLE_VARIABLES:
                raise AttributeError(f"{name.upper()} can be changed on the Settings page: "
                                     "read it from settings_store.effective()") from None
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"Settings({self.public()})"

    @property
    def run_dir(self) -> Path:
        return self.sonarium_data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.sonarium_data_dir / "logs"

    def fixed(self) -> Settings:
        """These settings without the editable ones: what holds for the process's whole life."""
        values = {name: value for name, value in self.values.items() if name not in EDITABLE_VARIABLES}
        return dataclasses.replace(self, values=values)

    def public(self) -> dict[str, Any]:
        """Every non-secret setting, JSON-ready; secrets appear only as set/unset."""
        shown: dict[str, Any] = {}
        for var in VARIABLES:
            if var.name not in self.values:
                continue
            value = self.values[var.name]
            if var.secret:
                shown[var.name.lower() + "_set"] = value is not None
            elif var.name in ("DATABASE_URL", "REDIS_URL"):
                shown[var.name.lower()] = redact_url(value)
            else:
                shown[var.name.lower()] = str(value) if isinstance(value, Path) else value
        shown["embedded_database"] = self.embedded_database
        shown["embedded_redis"] = self.embedded_redis
        return shown


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs and the API."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def embedded_socket_dir(data_dir: Path) -> Path:
    """Directory for the private servers' unix sockets.

    Inside the data dir when the path is short enough for a unix socket, else a
    per-data-dir folder under the temp dir (same answer for every process).
    """
    preferred = data_dir / "run"
    if len(str(preferred / "pg" / ".s.PGSQL.5432.lock")) <= _MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"sonarium-{digest}"


EMBEDDED_DATABASE_NAME = "sonarium"
EMBEDDED_DATABASE_USER = "postgres"


def embedded_database_url(data_dir: Path) -> str:
    host = quote(str(embedded_socket_dir(data_dir) / "pg"), safe="")
    return f"postgresql://{EMBEDDED_DATABASE_USER}@/{EMBEDDED_DATABASE_NAME}?host={host}"


def embedded_redis_url(data_dir: Path) -> str:
    return f"unix://{embedded_socket_dir(data_dir) / 'valkey.sock'}?db=0"


def _secret_key(data_dir: Path) -> str:
    """A random key created once and kept in the data dir, so sessions survive restarts."""
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _parse(var: Variable, raw: str | None) -> Any:
    """`raw` (None or blank: the default) parsed by `var`; ConfigError names the variable."""
    if raw is None or raw.strip() == "":
        raw = var.default
    if raw is None:
        return None
    try:
        return var.parse(raw)
    except ValueError as error:
        shown = "(hidden)" if var.secret else repr(raw if len(raw) <= 80 else raw[:60] + "…")
        raise ConfigError(f"{var.name}={shown} is not valid: expected {error}") from None


def setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One variable's value from `environ` (default: os.environ), parsed as load_settings does.

    For code that runs outside the service too (the analysis CLI, benchmarks) and
    needs one knob without the whole deployment's settings.
    """
    return _parse(_BY_NAME[name], (os.environ if environ is None else environ).get(name))


def load_settings(environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None, *, complete: bool = True) -> Settings:
    """Parse every variable in `VARIABLES` from `environ` (default: os.environ).

    `overrides` (upper-case names) replace raw environment strings and are
    parsed the same way; the settings store (saved values), tests and
    `create_app(test_config)` use them.  `complete=False` skips the check that
    the chosen media server has all it needs, so the Settings page can show a
    half-configured server for the user to finish.

    Raises
    ------
    ConfigError
        Naming the first bad or missing variable and what it accepts.
    """
    source = dict(os.environ if environ is None else environ)
    for name, value in (overrides or {}).items():
        if name in _BY_NAME:
            source[name] = str(value)
    values = {var.name: _parse(var, source.get(var.name)) for var in VARIABLES}

    provider = values["MEDIASERVER_TYPE"]
    missing = [name for name in _REQUIRED_FOR_PROVIDER[provider] if values[name] is None]
    if missing and complete:
        raise ConfigError(f"MEDIASERVER_TYPE={provider} needs " + ", ".join(missing) + " to be set")
    if values["TASK_DEAD_AFTER_SECONDS"] < 3 * values["TASK_HEARTBEAT_SECONDS"]:
        raise ConfigError("TASK_DEAD_AFTER_SECONDS must be at least 3 x TASK_HEARTBEAT_SECONDS, "
                          "or a busy task would be taken for dead")

    data_dir = values["SONARIUM_DATA_DIR"]
    embedded_database = values["DATABASE_URL"] is None
    embedded_redis = values["REDIS_URL"] is None
    if embedded_database:
        values["DATABASE_URL"] = embedded_database_url(data_dir)
    if embedded_redis:
        values["REDIS_URL"] = embedded_redis_url(data_dir)
    if values["SECRET_KEY"] is None:
        values["SECRET_KEY"] = _secret_key(data_dir)
    if values["PLAYLIST_DIR"] is None:
        values["PLAYLIST_DIR"] = data_dir / "playlists"
    return Settings(values=values, embedded_database=embedded_database, embedded_redis=embedded_redis)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    # Alembic narrates every schema check at INFO; the health probe runs one often.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))


def variables_markdown() -> str:
    """The settings table the README shows (`python -m config` prints it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for var in VARIABLES:
        default = "(unset)" if var.default is None else f"`{var.default}`"
        marks = (" Secret." if var.secret else "") + (" Settings page." if var.editable else "")
        rows.append(f"| `{var.name}` | {default} | {var.doc}{marks} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(variables_markdown())


# How the automatic playlists' search scores a clustering (similarity/cluster_scoring.py).  Each
# measure is first normalised: 0 is what a random partition of the same sizes gets, 1 the measure's
# best; the weights say how much each counts in the total, which is then scaled by the share of the
# playlists asked for that the clustering can fill.  On the dev corpus other weightings (silhouette
# doubled, Calinski-Harabasz at 0.5) moved the playlists' agreement with the sources by less than
# seed-to-seed noise (docs/QUALITY.md, "Automatic playlists").
CLUSTER_SCORE_WEIGHTS = {
    # Tracks that carry their playlist's own top tags: what makes a playlist read as one thing.
    "purity": 1.0,
    # Playlists with different dominant tags, so the set does not repeat itself.
    "diversity": 1.0,
    # Tracks nearer their own playlist than the next one, in the track-vector space: how it sounds,
    # not what the tags say; the best single predictor of the corpus's sources.
    "silhouette": 1.0,
    # Clusters compact relative to the distance between them: keeps two playlists off one spot.
    # Half weight: it overlaps with silhouette, and alone it prefers a few big clusters.
    "davies_bouldin": 0.5,
    # Between- over within-cluster spread: close to its best for any clustering of real music, so it
    # barely tells runs apart, and it favours few large clusters; kept in the breakdown only.
    "calinski_harabasz": 0.0,
}
