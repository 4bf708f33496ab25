"""Hostile input answered 400 with a plain message: NUL bytes, lone surrogates, deep JSON,
non-finite and huge numbers, absurd URLs (each of these was a 500)."""
import pytest

from tests.library import make_library

JSON_ROUTES = [("POST", "/api/tasks"), ("POST", "/api/alchemy"), ("POST", "/api/sonic_fingerprint"),
               ("POST", "/api/create_playlist"), ("POST", "/api/mediaserver"), ("POST", "/api/mediaserver/test"),
               ("POST", "/api/accounts"), ("POST", "/api/tokens"), ("POST", "/api/me/password")]


def refused(answer, words):
    assert answer.status_code == 400, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert words in answer.json["error"], answer.json
    assert "psycopg2" not in answer.text and "Traceback" not in answer.text


def test_nul_bytes_in_ids_titles_task_ids_and_lists(client):
    refused(client.get("/api/status/abc%00def"), "NUL")
    refused(client.post("/api/cancel/%00"), "NUL")
    refused(client.get("/api/similar_tracks?item_id=a%00b"), "NUL")
    refused(client.get("/api/find_path?start_title=x%00&end_item_id=y"), "NUL")
    refused(client.get("/api/search_tracks?q=abc%00"), "NUL")
    refused(client.post("/api/create_playlist", json={"name": "mix\u0000", "item_ids": ["a"]}), "NUL")
    refused(client.post("/api/create_playlist", json={"name": "mix", "item_ids": ["a", "b\u0000"]}), "NUL")
    refused(client.post("/api/alchemy", json={"add": ["\u0000"]}), "NUL")
    refused(client.post("/api/tasks", json={"type": "library_scan", "args": {"k\u0000": 1}}), "NUL")


@pytest.mark.parametrize("method, path", JSON_ROUTES)
def test_json_nested_a_thousand_deep(client, method, path):
    deep = "[" * 1000 + "]" * 1000
    refused(client.open(path, method=method, data=deep, content_type="application/json"), "nested")
    refused(client.open(path, method=method, data='{"a":' * 40 + "1" + "}" * 40,
                        content_type="application/json"), "nested")


def test_lone_surrogates_nan_and_huge_numbers(client):
    refused(client.post("/api/tasks", data='{"type": "library_scan", "args": {"x": "\\udcff"}}',
                        content_type="application/json"), "surrogate")
    refused(client.post("/api/tasks", data='{"type": "library_scan", "args": {"x": NaN}}',
                        content_type="application/json"), "finite")
    refused(client.post("/api/alchemy", data='{"add": ["a"], "temperature": Infinity}',
                        content_type="application/json"), "finite")
    refused(client.post("/api/alchemy", data='{"add": ["a"], "temperature": 1e400}',
                        content_type="application/json"), "finite")
    refused(client.post("/api/alchemy", data='{"add": ["a"], "temperature": ' + "9" * 400 + "}",
                        content_type="application/json"), "too large")
    refused(client.post("/api/tasks", data="{not json", content_type="application/json"), "not valid JSON")


def test_an_absurd_media_server_url(client):
    for url in ("http://" + "a" * 300_000, "http://host:99999", "http://" + "a" * 70 + ".example"):
        answer = client.post("/api/mediaserver/test", json={"values": {"MEDIASERVER_TYPE": "lyrion",
                                                                       "LYRION_URL": url}})
        refused(answer, "LYRION_URL")
        assert len(answer.json["error"]) < 500   # the value is not echoed back in full


def test_search_errors_never_repeat_driver_text(client, env):
    make_library({"jazz": 2})
    answer = client.get("/api/search_tracks", query_string={"q": "ja\x00zz"})
    refused(answer, "NUL")
