import pytest

from config import KNOWN_VARIABLES, ConfigError, load_settings, redact_url

BASE = {"SONARIUM_DATA_DIR": "/tmp/sonarium-config-test", "SECRET_KEY": "k"}


def settings(**values):
    return load_settings({**BASE, **values})


def test_defaults_are_valid_and_embedded_when_urls_unset():
    loaded = settings()
    assert loaded.mediaserver_type == "local"
    assert loaded.web_port == 8000 and loaded.worker_count == 2
    assert loaded.embedded_database and loaded.embedded_redis
    assert loaded.database_url.startswith("postgresql://postgres@/sonarium?host=")
    assert loaded.redis_url.startswith("unix://") and loaded.redis_url.endswith("valkey.sock?db=0")


@pytest.mark.parametrize("name, value, expected", [
    ("WEB_PORT", "eighty", "WEB_PORT='eighty' is not valid: expected a whole number from 1 to 65535"),
    ("WEB_PORT", "70000", "a whole number from 1 to 65535"),
    ("MEDIASERVER_TYPE", "plex", "one of local, navidrome, jellyfin, emby, lyrion"),
    ("LOG_LEVEL", "LOUD", "one of DEBUG, INFO"),
    ("DATABASE_URL", "mysql://x", "a URL starting with postgresql://"),
    ("REDIS_URL", "http://x", "redis://"),
    ("TASK_HEARTBEAT_SECONDS", "0", "a number from 0.2 to 60"),
    ("NAVIDROME_AUTH", "magic", "token, password"),
])
def test_bad_values_stop_start_up_naming_the_variable(name, value, expected):
    with pytest.raises(ConfigError) as error:
        settings(**{name: value})
    assert name in str(error.value) and expected in str(error.value)


def test_a_provider_needs_its_settings():
    with pytest.raises(ConfigError, match="MEDIASERVER_TYPE=navidrome needs NAVIDROME_URL, "
                                          "NAVIDROME_USER, NAVIDROME_PASSWORD"):
        settings(MEDIASERVER_TYPE="navidrome")
    with pytest.raises(ConfigError, match="NAVIDROME_URL='ftp://x' is not valid: expected an http"):
        settings(MEDIASERVER_TYPE="navidrome", NAVIDROME_URL="ftp://x")
    ok = settings(MEDIASERVER_TYPE="jellyfin", JELLYFIN_URL="http://jf:8096/", JELLYFIN_USER_ID="u",
                  JELLYFIN_TOKEN="t")
    assert ok.jellyfin_url == "http://jf:8096"


def test_secrets_never_shown():
    loaded = settings(MEDIASERVER_TYPE="navidrome", NAVIDROME_URL="http://nd:4533", NAVIDROME_USER="me",
                      NAVIDROME_PASSWORD="hunter2", DATABASE_URL="postgresql://u:dbpass@db/x")
    shown = str(loaded.public()) + repr(loaded)
    assert "hunter2" not in shown and "dbpass" not in shown and "'k'" not in shown
    assert loaded.public()["navidrome_password_set"] is True
    assert loaded.public()["database_url"] == "postgresql://u:***@db/x"


def test_bad_secret_value_is_not_echoed():
    with pytest.raises(ConfigError) as error:
        load_settings({**BASE, "MEDIASERVER_TYPE": "emby", "EMBY_URL": "http://e", "EMBY_USER_ID": "u",
                       "EMBY_TOKEN": "t", "TASK_DEAD_AFTER_SECONDS": "1", "TASK_HEARTBEAT_SECONDS": "1"})
    assert "at least 3 x TASK_HEARTBEAT_SECONDS" in str(error.value)


def test_secret_key_is_created_once_and_kept(tmp_path):
    first = load_settings({"SONARIUM_DATA_DIR": str(tmp_path)}).secret_key
    again = load_settings({"SONARIUM_DATA_DIR": str(tmp_path)}).secret_key
    assert first == again and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_long_data_dirs_keep_socket_paths_short(tmp_path):
    deep = tmp_path / ("x" * 120)
    loaded = load_settings({"SONARIUM_DATA_DIR": str(deep), "SECRET_KEY": "k"})
    socket = loaded.redis_url.removeprefix("unix://").split("?")[0]
    assert len(socket) < 108 and str(deep) not in socket


def test_redact_url_and_known_variables():
    assert redact_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
    assert {"DATABASE_URL", "REDIS_URL", "MUSIC_DIR", "WORKER_COUNT", "SECRET_KEY"} <= KNOWN_VARIABLES


def test_readme_lists_every_setting():
    from config import variables_markdown
    from tests.conftest import REPO
    assert variables_markdown() in (REPO / "README.md").read_text()
