"""Media-server settings: saved server-side, validated strictly, secrets never sent back."""
import pytest

import runtime
import settings_store


def test_defaults_come_from_the_environment(client, env):
    shown = client.get("/api/mediaserver").json
    assert shown["type"] == "local" and "navidrome" in shown["types"] and shown["problem"] is None
    folders = {f["name"]: f for f in shown["folders"]}
    assert folders["MUSIC_DIR"]["value"] == env["MUSIC_DIR"] and folders["MUSIC_DIR"]["saved"] is False
    secret = {f["name"]: f for f in shown["fields"]["navidrome"]}["NAVIDROME_PASSWORD"]
    assert secret == {"name": "NAVIDROME_PASSWORD", "help": "Subsonic password.", "secret": True, "saved": False,
                      "set": False, "unreadable": False}
    ai = {f["name"]: f for f in shown["ai"]}
    assert ai["AI_PROVIDER"]["value"] == "none" and ai["AI_PROVIDER"]["choices"] == ["none", "ollama", "openai",
                                                                                     "gemini"]
    assert ai["AI_API_KEY"]["set"] is False and set(ai) == {"AI_PROVIDER", "AI_URL", "AI_MODEL", "AI_API_KEY"}


def test_saving_validates_and_never_returns_secrets(client):
    bad = client.post("/api/mediaserver", json={"values": {"MEDIASERVER_TYPE": "navidrome",
                                                           "NAVIDROME_URL": "ftp://x"}})
    assert bad.status_code == 400 and "NAVIDROME_URL='ftp://x' is not valid" in bad.json["error"]
    missing = client.post("/api/mediaserver", json={"values": {"MEDIASERVER_TYPE": "navidrome",
                                                               "NAVIDROME_URL": "http://nd:4533"}})
    assert missing.status_code == 400 and "needs NAVIDROME_USER, NAVIDROME_PASSWORD" in missing.json["error"]
    assert settings_store.saved() == {}  # nothing half-saved
    ok = client.post("/api/mediaserver", json={"values": {
        "MEDIASERVER_TYPE": "navidrome", "NAVIDROME_URL": "http://nd:4533", "NAVIDROME_USER": "me",
        "NAVIDROME_PASSWORD": "s3cret-pw", "NAVIDROME_AUTH": "password"}})
    assert ok.status_code == 200 and "s3cret-pw" not in ok.text
    assert {f["name"]: f for f in ok.json["fields"]["navidrome"]}["NAVIDROME_PASSWORD"]["set"] is True
    again = client.post("/api/mediaserver", json={"values": {"MEDIASERVER_TYPE": "navidrome",
                                                             "NAVIDROME_PASSWORD": ""}})
    assert again.status_code == 200  # an empty secret keeps the saved one
    assert settings_store.effective().navidrome_password == "s3cret-pw"
    for path in ("/api/mediaserver", "/api/config", "/settings"):
        assert "s3cret-pw" not in client.get(path).text
    assert client.post("/api/mediaserver", json={"values": {"SECRET_KEY": "x"}}).status_code == 400
    assert client.post("/api/mediaserver", data="nope").status_code == 400


def test_connection_test_reports_success_and_failure(client, env, music_dir):
    (music_dir / "a").mkdir()
    (music_dir / "a" / "x.flac").write_bytes(b"")
    ok = client.post("/api/mediaserver/test", json={"values": {"MEDIASERVER_TYPE": "local"}}).json
    assert ok == {"ok": True, "message": f"Music folder {music_dir}: 1 folders with audio files"}
    down = client.post("/api/mediaserver/test", json={"values": {
        "MEDIASERVER_TYPE": "lyrion", "LYRION_URL": "http://127.0.0.1:9"}}).json
    assert down == {"ok": False, "message": "cannot reach http://127.0.0.1:9: connection refused"}
    assert settings_store.saved() == {}  # testing saves nothing


@pytest.mark.browser
def test_settings_page_in_a_browser(live_server, page, music_dir, monkeypatch):
    from playwright.sync_api import expect
    page.goto(live_server + "/settings")
    expect(page.locator("#type")).to_have_value("local")
    expect(page.locator("input[name=MUSIC_DIR]")).to_have_value(str(music_dir))
    page.click("#test")
    expect(page.locator("#result")).to_contain_text("Music folder")
    page.select_option("#type", "navidrome")
    page.fill("input[name=NAVIDROME_URL]", "http://127.0.0.1:9")
    page.fill("input[name=NAVIDROME_USER]", "me")
    page.fill("input[name=NAVIDROME_PASSWORD]", "pw-in-browser")
    expect(page.locator("select[name=NAVIDROME_AUTH]")).to_have_value("token")
    page.select_option("select[name=NAVIDROME_AUTH]", "password")
    page.click("#save")
    expect(page.locator("#result")).to_have_text("Saved.")
    expect(page.locator("input[name=NAVIDROME_PASSWORD]")).to_have_value("")
    expect(page.locator("select[name=NAVIDROME_AUTH]")).to_have_value("password")
    expect(page.locator("input[name=NAVIDROME_PASSWORD]")).to_have_attribute("placeholder", "saved (leave empty to keep)")
    assert "pw-in-browser" not in page.content()
    assert set(settings_store.saved()) == {"MEDIASERVER_TYPE", "NAVIDROME_URL", "NAVIDROME_USER",
                                           "NAVIDROME_PASSWORD", "NAVIDROME_AUTH"}   # only what was changed

    page.select_option("select[name=AI_PROVIDER]", "openai")
    page.fill("input[name=AI_MODEL]", "gpt-test")
    page.fill("input[name=AI_API_KEY]", "ai-key-in-browser")
    page.click("#save")
    expect(page.locator("#result")).to_have_text("Saved.")
    ai_key = page.locator("input[name=AI_API_KEY]")
    expect(ai_key).to_have_attribute("placeholder", "saved (leave empty to keep)")
    assert settings_store.effective().ai_api_key == "ai-key-in-browser" and "ai-key-in-browser" not in page.content()
    page.click("button[data-clear=AI_API_KEY]")
    expect(page.locator("#result")).to_have_text("Cleared AI_API_KEY.")
    expect(ai_key).to_have_attribute("placeholder", "not set")
    expect(page.locator("button[data-clear=AI_API_KEY]")).to_have_count(0)
    expect(page.locator("input[name=AI_MODEL]")).to_have_value("gpt-test")
    assert settings_store.effective().ai_api_key is None

    monkeypatch.setenv("SECRET_KEY", "another-secret-key")   # saved secrets can no longer be read
    runtime.init(migrate=False, wait=5)
    page.reload()
    expect(page.locator("#problem")).to_contain_text("needs NAVIDROME_PASSWORD")
    expect(page.locator("input[name=NAVIDROME_PASSWORD]")).to_have_attribute(
        "placeholder", "saved value cannot be read; enter it again")
    from tests.conftest import REPO
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "test-artifacts" / "settings.png"), full_page=True)


@pytest.mark.parametrize("values, expected", [
    ({"MEDIASERVER_TYPE": "local"}, "LocalProvider"),
    ({"MEDIASERVER_TYPE": "navidrome", "NAVIDROME_URL": "http://nd:4533", "NAVIDROME_USER": "u",
      "NAVIDROME_PASSWORD": "p"}, "NavidromeProvider"),
    ({"MEDIASERVER_TYPE": "jellyfin", "JELLYFIN_URL": "http://jf:8096", "JELLYFIN_USER_ID": "u",
      "JELLYFIN_TOKEN": "t"}, "JellyfinProvider"),
    ({"MEDIASERVER_TYPE": "emby", "EMBY_URL": "http://emby:8096", "EMBY_USER_ID": "u", "EMBY_TOKEN": "t"},
     "EmbyProvider"),
    ({"MEDIASERVER_TYPE": "lyrion", "LYRION_URL": "http://lms:9000"}, "LyrionProvider"),
])
def test_registry_builds_the_chosen_provider(env, values, expected):
    from config import load_settings
    from mediaserver.registry import provider_for
    provider = provider_for(load_settings(overrides=values))
    assert type(provider).__name__ == expected and provider.type == values["MEDIASERVER_TYPE"]
