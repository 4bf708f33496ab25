"""The one settings store: saved values override the environment for every process,
saving is an upsert, secrets are encrypted at rest and never reach a log, and a
connection test sends a saved secret only where it was saved."""
from __future__ import annotations

import hashlib
import logging
import threading
import urllib.parse

import pytest
import requests

import runtime
import settings_store
from config import AI_VARIABLES, EDITABLE_VARIABLES, FOLDER_VARIABLES, PLAYLIST_VARIABLES, PROVIDER_VARIABLES
from tests.conftest import wait_for
from tests.support_settings import execute, postgres_log, recording_server, setting_rows


def test_every_editable_setting_has_a_place_on_the_page():
    on_page = {"MEDIASERVER_TYPE", *FOLDER_VARIABLES, *AI_VARIABLES, *PLAYLIST_VARIABLES}.union(*PROVIDER_VARIABLES.values())
    assert on_page == EDITABLE_VARIABLES


def test_start_up_settings_refuse_to_answer_for_editable_ones(env):
    with pytest.raises(AttributeError, match="MUSIC_DIR can be changed on the Settings page"):
        runtime.settings().music_dir
    assert runtime.settings().task_log_lines == 200   # what cannot be edited is still there


def test_a_saved_music_dir_is_what_the_library_scan_reads(client, workers, tmp_path):
    saved_dir = tmp_path / "saved-music"
    (saved_dir / "album").mkdir(parents=True)
    (saved_dir / "album" / "song.flac").write_bytes(b"not really flac")
    assert client.post("/api/mediaserver", json={"values": {"MUSIC_DIR": str(saved_dir)}}).status_code == 200
    assert settings_store.effective().music_dir == saved_dir
    assert client.get("/api/config").json["music_dir"] == str(saved_dir)
    workers.start("high")
    workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "library_scan"}).json["task_id"]
    status = wait_for(lambda: (s := client.get(f"/api/status/{task_id}").json)["status"] in ("SUCCESS", "FAILURE")
                      and s, timeout=60, message="the library scan to end")
    assert status["status"] == "SUCCESS", status
    assert status["details"]["result"]["files"] == 1   # the saved folder's one file, not the empty env one


def test_concurrent_saves_of_a_never_saved_setting_all_succeed(client, live_server, database_url):
    barrier = threading.Barrier(8)
    answers: list[int] = [0] * 8
    signed_in = client.environ_base.get("HTTP_AUTHORIZATION")   # the client fixture's credentials, if any
    headers = {"Authorization": signed_in} if signed_in else {}

    def save(number: int) -> None:
        barrier.wait()
        answers[number] = requests.post(live_server + "/api/mediaserver", timeout=30, headers=headers,
                                        json={"values": {"AI_API_KEY": f"racing-key-{number}",
                                                         "AI_MODEL": f"model-{number}"}}).status_code

    threads = [threading.Thread(target=save, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 8
    rows = setting_rows(database_url)
    assert set(rows) == {"AI_API_KEY", "AI_MODEL"} and rows["AI_API_KEY"][1] is True
    assert "racing-key" not in rows["AI_API_KEY"][0]
    assert settings_store.effective().ai_api_key.startswith("racing-key-")


def test_secrets_are_encrypted_and_can_be_cleared(client, database_url, monkeypatch):
    monkeypatch.setenv("AI_MODEL", "model-from-env")
    answer = client.post("/api/mediaserver", json={"values": {
        "AI_PROVIDER": "openai", "AI_MODEL": "my-model", "AI_API_KEY": "sk-very-secret"}})
    assert answer.status_code == 200 and "sk-very-secret" not in answer.text
    value, encrypted = setting_rows(database_url)["AI_API_KEY"]
    assert encrypted and "sk-very-secret" not in value
    assert setting_rows(database_url)["AI_MODEL"] == ("my-model", False)
    assert settings_store.effective().ai_api_key == "sk-very-secret"

    kept = client.post("/api/mediaserver", json={"values": {"AI_API_KEY": ""}})   # empty secret: keep
    assert {f["name"]: f for f in kept.json["ai"]}["AI_API_KEY"]["set"] is True
    cleared = client.post("/api/mediaserver", json={"values": {"AI_MODEL": ""}, "clear": ["AI_API_KEY"]})
    assert cleared.status_code == 200
    ai = {f["name"]: f for f in cleared.json["ai"]}
    assert ai["AI_API_KEY"] == {**ai["AI_API_KEY"], "set": False, "saved": False}
    assert ai["AI_MODEL"]["value"] == "model-from-env" and ai["AI_MODEL"]["saved"] is False
    assert set(setting_rows(database_url)) == {"AI_PROVIDER"}
    assert settings_store.effective().ai_api_key is None

    both = client.post("/api/mediaserver", json={"values": {"AI_MODEL": "x"}, "clear": ["AI_MODEL"]})
    assert both.status_code == 400 and "cannot be both set and cleared" in both.json["error"]
    assert client.post("/api/mediaserver", json={"values": {}, "clear": ["SECRET_KEY"]}).status_code == 400
    assert client.post("/api/mediaserver", json={"values": {}, "clear": "AI_API_KEY"}).status_code == 400


def test_plaintext_secrets_from_older_versions_are_sealed(env, database_url):
    execute(database_url, "INSERT INTO app_setting (name, value, encrypted) VALUES (%s, %s, false), "
                          "(%s, %s, false)", "EMBY_TOKEN", "old-plain-token", "AI_MODEL", "plain-model")
    from app import create_app
    create_app({"TESTING": True})   # start-up seals them
    rows = setting_rows(database_url)
    assert rows["EMBY_TOKEN"][1] is True and "old-plain-token" not in rows["EMBY_TOKEN"][0]
    assert rows["AI_MODEL"] == ("plain-model", False)   # not a secret: left as it is
    assert settings_store.effective().emby_token == "old-plain-token"

    execute(database_url, "UPDATE app_setting SET value = %s, encrypted = false WHERE name = %s",
            "another-plain-token", "EMBY_TOKEN")
    assert settings_store.effective().emby_token == "another-plain-token"   # and so does reading
    assert setting_rows(database_url)["EMBY_TOKEN"][1] is True


def test_a_secret_that_cannot_be_decrypted_counts_as_unset(client, env, monkeypatch, caplog):
    saved = client.post("/api/mediaserver", json={"values": {
        "MEDIASERVER_TYPE": "jellyfin", "JELLYFIN_URL": "http://127.0.0.1:9", "JELLYFIN_USER_ID": "u",
        "JELLYFIN_TOKEN": "jf-token-before", "AI_API_KEY": "ai-key-before"}})
    assert saved.status_code == 200
    monkeypatch.setenv("SECRET_KEY", "a-new-secret-key")
    runtime.init(migrate=False, wait=5)
    with caplog.at_level(logging.WARNING):
        shown = client.get("/api/mediaserver").json
        client.get("/api/mediaserver")
    assert "JELLYFIN_TOKEN=" not in shown["problem"] and "needs JELLYFIN_TOKEN" in shown["problem"]
    token = {f["name"]: f for f in shown["fields"]["jellyfin"]}["JELLYFIN_TOKEN"]
    assert token["unreadable"] is True and token["set"] is False and token["saved"] is True
    warnings = [r.getMessage() for r in caplog.records if r.name == "settings_store"]
    assert len(warnings) == 2   # once per value and process, not on every read
    assert any("JELLYFIN_TOKEN" in w for w in warnings) and any("AI_API_KEY" in w for w in warnings)
    assert "before" not in caplog.text
    assert client.get("/api/config").status_code == 409   # the jellyfin server now lacks its token

    again = client.post("/api/mediaserver", json={"values": {"JELLYFIN_TOKEN": "jf-token-after"}})
    assert again.status_code == 200 and again.json["problem"] is None
    assert settings_store.effective().jellyfin_token == "jf-token-after"
    assert settings_store.effective().ai_api_key is None
    assert client.post("/api/mediaserver", json={"values": {}, "clear": ["AI_API_KEY"]}).status_code == 200
    assert settings_store.load_saved().unreadable == frozenset()


def test_no_secret_reaches_any_log_when_saving_fails(client, database_url, caplog):
    secret = "pw-that-must-never-be-logged"
    marker = "sonarium-test-refused-the-write"
    execute(database_url, f"""
        CREATE FUNCTION refuse_setting() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION '{marker}'; END $$;
        CREATE TRIGGER refuse_setting BEFORE INSERT OR UPDATE ON app_setting
        FOR EACH ROW EXECUTE FUNCTION refuse_setting()""")
    log_file = postgres_log(database_url)
    log_start = log_file.stat().st_size if log_file else 0
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)   # even statement logging must hide values
    try:
        with caplog.at_level(logging.DEBUG):
            answer = client.post("/api/mediaserver", json={"values": {
                "MEDIASERVER_TYPE": "navidrome", "NAVIDROME_URL": "http://127.0.0.1:9", "NAVIDROME_USER": "me",
                "NAVIDROME_PASSWORD": secret}})
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert answer.status_code == 500 and secret not in answer.text
    assert marker in caplog.text   # the failure was logged, with its statement...
    assert secret not in caplog.text   # ...but not the secret
    assert setting_rows(database_url) == {}

    execute(database_url, "DROP TRIGGER refuse_setting ON app_setting")
    assert client.post("/api/mediaserver", json={"values": {
        "MEDIASERVER_TYPE": "navidrome", "NAVIDROME_URL": "http://127.0.0.1:9", "NAVIDROME_USER": "me",
        "NAVIDROME_PASSWORD": secret}}).status_code == 200
    assert secret not in str(setting_rows(database_url))   # no plaintext at rest
    if log_file is None:
        pytest.skip(reason="PostgreSQL's log cannot be read from this process (server on another machine or "
                    "another user); the app log and the table were checked")
    with open(log_file, "rb") as handle:
        handle.seek(log_start)
        server_log = handle.read().decode("utf-8", "replace")
    assert marker in server_log   # the failing statement reached the server's log...
    assert secret not in server_log   # ...without the secret


def _saved_server(client, kind: str, url: str, auth: str = "token") -> None:
    values = {"navidrome": {"MEDIASERVER_TYPE": "navidrome", "NAVIDROME_URL": url, "NAVIDROME_USER": "me",
                            "NAVIDROME_PASSWORD": "saved-secret", "NAVIDROME_AUTH": auth},
              "jellyfin": {"MEDIASERVER_TYPE": "jellyfin", "JELLYFIN_URL": url, "JELLYFIN_USER_ID": "me",
                           "JELLYFIN_TOKEN": "saved-secret"},
              "emby": {"MEDIASERVER_TYPE": "emby", "EMBY_URL": url, "EMBY_USER_ID": "me",
                       "EMBY_TOKEN": "saved-secret"}}[kind]
    assert client.post("/api/mediaserver", json={"values": values}).status_code == 200


def _secret_sent(kind: str, auth: str, request: dict) -> str | None:
    """The secret a captured request carried, decoded from the provider's scheme."""
    if kind != "navidrome":
        return request["headers"].get("x-emby-token")
    form = dict(urllib.parse.parse_qsl(request["body"] or urllib.parse.urlsplit(request["path"]).query))
    if auth == "password":
        return form.get("p")
    for candidate in ("saved-secret", "typed-secret"):
        if hashlib.md5((candidate + form.get("s", "")).encode()).hexdigest() == form.get("t"):
            return candidate
    return None


@pytest.mark.parametrize("kind, auth, secret_name", [
    ("jellyfin", "token", "JELLYFIN_TOKEN"), ("emby", "token", "EMBY_TOKEN"),
    ("navidrome", "token", "NAVIDROME_PASSWORD"), ("navidrome", "password", "NAVIDROME_PASSWORD")])
def test_a_connection_test_sends_a_saved_secret_only_where_it_was_saved(client, kind, auth, secret_name):
    prefix = secret_name.split("_")[0]
    user_field = "NAVIDROME_USER" if kind == "navidrome" else f"{prefix}_USER_ID"
    with recording_server() as saved_server, recording_server() as other:
        _saved_server(client, kind, saved_server.url, auth)

        moved = client.post("/api/mediaserver/test", json={"values": {"MEDIASERVER_TYPE": kind,
                                                                      f"{prefix}_URL": other.url}})
        assert moved.status_code == 400 and "again to test a different server" in moved.json["error"]
        other_user = client.post("/api/mediaserver/test", json={"values": {user_field: "someone-else"}})
        assert other_user.status_code == 400 and secret_name in other_user.json["error"]
        assert other.requests == [] and saved_server.requests == []   # nothing was contacted

        same = client.post("/api/mediaserver/test", json={"values": {"MEDIASERVER_TYPE": kind}})
        assert same.status_code == 200 and saved_server.requests   # where it was saved: allowed
        assert {_secret_sent(kind, auth, r) for r in saved_server.requests} == {"saved-secret"}

        typed = client.post("/api/mediaserver/test", json={"values": {
            "MEDIASERVER_TYPE": kind, f"{prefix}_URL": other.url, secret_name: "typed-secret"}})
        assert typed.status_code == 200 and other.requests
        assert {_secret_sent(kind, auth, r) for r in other.requests} == {"typed-secret"}
        assert "saved-secret" not in other.everything()


def test_saving_a_new_server_or_user_needs_its_secret_too(client):
    """Otherwise the next task would carry the saved secret to the new address."""
    with recording_server() as saved_server, recording_server() as other:
        _saved_server(client, "jellyfin", saved_server.url)
        moved = client.post("/api/mediaserver", json={"values": {"JELLYFIN_URL": other.url}})
        assert moved.status_code == 400 and "JELLYFIN_TOKEN changed" in moved.json["error"]
        assert settings_store.effective().jellyfin_url == saved_server.url   # nothing saved
        cleared = client.post("/api/mediaserver", json={"values": {"JELLYFIN_URL": other.url},
                                                        "clear": ["JELLYFIN_TOKEN"]})
        assert cleared.status_code == 400 and "needs JELLYFIN_TOKEN" in cleared.json["error"]
        typed = client.post("/api/mediaserver", json={"values": {"JELLYFIN_URL": other.url,
                                                                 "JELLYFIN_TOKEN": "new-secret"}})
        assert typed.status_code == 200
        assert other.requests == [] and saved_server.requests == []


def test_the_fingerprint_never_lends_the_saved_password_to_another_user(client):
    with recording_server() as saved_server:
        _saved_server(client, "navidrome", saved_server.url, auth="password")
        other = client.post("/api/sonic_fingerprint", json={"credentials": {"user": "someone-else"}})
        assert other.status_code == 400 and "give that user's password" in other.json["error"]
        assert saved_server.requests == []
