"""JellyfinProvider and EmbyProvider against fake servers checked by the vendors' generated clients.

No Jellyfin or Emby server can run here, so each test talks to a small Flask
app (werkzeug server on 127.0.0.1) holding an in-memory library.  The fake is
kept honest by the vendors' own generated code:

- Routes: every request must match an operation of the generated API
  (jellyfin-sdk ``api_10_11`` for Jellyfin; embyclient 4.9 for Emby, under /emby).
  The operations, their query parameter names, body model and response model
  are recorded by calling the generated request builders with a recording
  api_client (``ItemsApi._get_items_serialize`` and friends for Jellyfin, the
  ``*_with_http_info`` methods for Emby), never written by hand.
- Requests: query parameter names must be among that operation's names, spelt
  exactly (camelCase for Jellyfin, PascalCase for Emby).  Jellyfin query and path
  values are validated with the pydantic types of the generated method's
  signature (so ``sortBy`` values must be ItemSortBy members, ids GUIDs, ...),
  request bodies with the DTO model (CreatePlaylistDto).
- Responses: every JSON answer is validated with the operation's response
  model before it is sent: Jellyfin with the pydantic models
  (``BaseItemDtoQueryResult.from_dict`` ...) plus a walk that rejects keys the
  model does not know (pydantic ignores them); Emby with the swagger models: read
  by embyclient's own ``ApiClient.__deserialize`` and walked strictly against
  ``swagger_types``/``attribute_map`` (unknown keys, wrong JSON types,
  values outside the enum models and unparsable datetimes are errors), since the
  swagger models themselves accept almost anything.  The status code must be
  one the Jellyfin operation declares.

A request violation makes the fake answer 400, an answer that fails validation
is replaced by a 500 (so it never reaches the provider); both are recorded, and
every test ends by asserting that the fake saw none (unless it provoked one on
purpose).  Ids are what each server uses: 32-hex GUIDs on Jellyfin (its models
type them as UUIDs), decimal strings for Emby items (32-hex for Emby users).
"""
from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import itertools
import json
import math
import pkgutil
import random
import re
import socket
import threading
import time
import typing
import uuid
import wave
from dataclasses import dataclass, field

import pytest

jf_api = pytest.importorskip("jellyfin.generated.api_10_11.api")
jf_models = pytest.importorskip("jellyfin.generated.api_10_11.models")
emby_api = pytest.importorskip("emby_client.api")
emby_models = pytest.importorskip("emby_client.models")

import numpy as np                                  # noqa: E402
import soundfile                                    # noqa: E402
from dateutil import parser as date_parser          # noqa: E402
from emby_client.api_client import ApiClient as EmbyApiClient   # noqa: E402
from flask import Flask, Response, request          # noqa: E402
from pydantic import BaseModel, TypeAdapter         # noqa: E402
from werkzeug.serving import make_server            # noqa: E402

from mediaserver.base import (Album, AuthFailed, DownloadTooLarge, NotFound, PlayRecord, ProviderError,  # noqa: E402
                              RangeNotSatisfiable, RemotePlaylist, Unreachable)
from mediaserver.http import HttpClient             # noqa: E402
from mediaserver.jellyfin import EmbyProvider, JellyfinProvider, parse_time  # noqa: E402

TOKEN = "s3cr3t-api-key-0f9e8d7c6b5a"
UTC = dt.timezone.utc


# ----------------------------------------------------------------------------
# The generated APIs, recorded
# ----------------------------------------------------------------------------
@dataclass
class Operation:
    name: str
    method: str
    template: str
    pattern: re.Pattern
    query: dict[str, str]                       # wire name -> python parameter name
    path: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, typing.Any] = field(default_factory=dict)   # python name -> type (Jellyfin)
    body_model: type | None = None
    responses: dict[str, str] = field(default_factory=dict)            # status -> model name (Jellyfin)
    response_type: str | None = None                                   # Emby


class _Marker(str):
    """A dummy argument that remembers which parameter it was given for."""

    @property
    def value(self):          # enums are serialised as .value
        return self

    def isoformat(self):
        return str(self)


def _pattern(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


class _JellyfinRecorder:
    def select_header_accept(self, accepts):
        return accepts[0] if accepts else None

    def select_header_content_type(self, types):
        return types[0] if types else None

    def param_serialize(self, **kwargs):
        return kwargs


def _model_in(annotation) -> type | None:
    stack = [annotation]
    while stack:
        item = stack.pop()
        if inspect.isclass(item) and issubclass(item, BaseModel):
            return item
        stack.extend(typing.get_args(item))
    return None


def _jellyfin_operations() -> list[Operation]:
    operations = []
    for info in pkgutil.iter_modules(jf_api.__path__):
        module = importlib.import_module(f"{jf_api.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not cls.__name__.endswith("Api"):
                continue
            api = cls.__new__(cls)
            api.api_client = _JellyfinRecorder()
            for attr, builder in inspect.getmembers(cls, inspect.isfunction):
                match = re.fullmatch(r"_(\w+)_serialize", attr)
                if not match:
                    continue
                names = [p for p in inspect.signature(builder).parameters if p != "self" and not p.startswith("_")]
                try:
                    built = builder(api, **{n: _Marker(n) for n in names}, _request_auth=None, _content_type=None,
                                    _headers=None, _host_index=0)
                except OSError:       # file uploads open their argument; none of ours
                    continue
                public = getattr(cls, match.group(1))
                signature = inspect.signature(public).parameters
                body = built["body"]
                responses = dict(re.findall(r"'(\d{3})': \"?(\w+)\"?,", inspect.getsource(public)))
                operations.append(Operation(
                    name=match.group(1), method=built["method"], template=built["resource_path"],
                    pattern=_pattern(built["resource_path"]),
                    query={wire: str(value) for wire, value in built["query_params"]},
                    path={wire: str(value) for wire, value in built["path_params"].items()},
                    annotations={n: signature[n].annotation for n in names},
                    body_model=_model_in(signature[str(body)].annotation) if body is not None else None,
                    responses=responses))
    return operations


class _EmbyRecorder:
    def select_header_accept(self, accepts):
        return accepts[0] if accepts else None

    def select_header_content_type(self, types):
        return types[0] if types else None

    def call_api(self, resource_path, method, path_params=None, query_params=None, header_params=None,
                 body=None, post_params=None, files=None, response_type=None, **kwargs):
        return dict(method=method, path=resource_path, path_params=path_params or {},
                    query=query_params or [], body=body, response_type=response_type)


def _emby_operations() -> list[Operation]:
    operations = []
    for info in pkgutil.iter_modules(emby_api.__path__):
        module = importlib.import_module(f"{emby_api.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            api = cls(api_client=_EmbyRecorder())
            for attr, method in inspect.getmembers(cls, inspect.isfunction):
                if not attr.endswith("_with_http_info"):
                    continue
                listed = re.search(r"all_params = \[(.*?)\]", inspect.getsource(method))
                names = re.findall(r"'(\w+)'", listed.group(1)) if listed else []
                built = method(api, **{n: _Marker(n) for n in names})
                operations.append(Operation(
                    name=attr[:-len("_with_http_info")], method=built["method"], template=built["path"],
                    pattern=_pattern(built["path"]),
                    query={wire: str(value) for wire, value in built["query"]},
                    path={wire: str(value) for wire, value in built["path_params"].items()},
                    body_model=None if built["body"] is None else object,
                    response_type=built["response_type"]))
    return operations


_OPERATIONS: dict[str, list[Operation]] = {}


def operations(flavour: str) -> list[Operation]:
    if flavour not in _OPERATIONS:
        found = _jellyfin_operations() if flavour == "jellyfin" else _emby_operations()
        # literal routes before templated ones (/Items/Counts before /Items/{itemId})
        _OPERATIONS[flavour] = sorted(found, key=lambda op: op.template.count("{"))
    return _OPERATIONS[flavour]


def find_operation(flavour: str, method: str, path: str) -> Operation | None:
    return next((op for op in operations(flavour) if op.method == method and op.pattern.match(path)), None)


def test_recorded_operations_are_the_documented_ones():
    """The recording reads the generated code correctly (spot checks against the generated docs)."""
    items = find_operation("jellyfin", "GET", "/Items")
    assert items.name == "get_items" and items.responses["200"] == "BaseItemDtoQueryResult"
    assert {"userId", "includeItemTypes", "sortBy", "startIndex", "fields", "parentId"} <= set(items.query)
    assert items.query["includeItemTypes"] == "include_item_types"
    create = find_operation("jellyfin", "POST", "/Playlists")
    assert create.body_model is jf_models.CreatePlaylistDto and create.responses["200"] == "PlaylistCreationResult"
    assert find_operation("jellyfin", "GET", "/Users/{userId}/Items") is None   # 10.11 documents /Items?userId=
    emby_items = find_operation("emby", "GET", "/Users/0123/Items")
    assert emby_items.response_type == "QueryResultBaseItemDto" and "IncludeItemTypes" in emby_items.query
    emby_create = find_operation("emby", "POST", "/Playlists")
    assert set(emby_create.query) == {"Name", "Ids", "MediaType"} and emby_create.body_model is None


# ----------------------------------------------------------------------------
# Validation with the vendors' models
# ----------------------------------------------------------------------------
def _unknown_keys(model: BaseModel, data: dict, where: str) -> list[str]:
    """Keys pydantic silently ignored: not in the generated model."""
    errors = []
    by_alias = {(info.alias or name): name for name, info in type(model).model_fields.items()}
    for key, value in data.items():
        if key not in by_alias:
            errors.append(f"{where}.{key}: not a field of {type(model).__name__}")
            continue
        sub = getattr(model, by_alias[key])
        if isinstance(sub, BaseModel) and isinstance(value, dict):
            errors += _unknown_keys(sub, value, f"{where}.{key}")
        elif isinstance(sub, list) and isinstance(value, list):
            for i, (s, v) in enumerate(zip(sub, value)):
                if isinstance(s, BaseModel) and isinstance(v, dict):
                    errors += _unknown_keys(s, v, f"{where}.{key}[{i}]")
    return errors


def validate_jellyfin(model_name: str, data) -> list[str]:
    model = getattr(jf_models, model_name)
    try:
        instance = model.from_dict(data)
    except Exception as error:      # pydantic.ValidationError and friends
        return [f"{model_name}: {error}"]
    return _unknown_keys(instance, data, model_name)


class _EmbyReader(EmbyApiClient):
    """embyclient's ApiClient without its thread pool: only its deserializer is used."""

    def __init__(self):         # noqa: D107 - deliberately skips the pool and REST client
        pass

    def __del__(self):
        pass


_EMBY_READER = _EmbyReader()


def _emby_enum_values(cls) -> set[str] | None:
    if cls.swagger_types:
        return None
    return {v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


def _emby_strict(data, kind: str, where: str) -> list[str]:
    if data is None:
        return []
    if kind.startswith("list["):
        if not isinstance(data, list):
            return [f"{where}: expected a list"]
        inner = kind[5:-1]
        return [e for i, v in enumerate(data) for e in _emby_strict(v, inner, f"{where}[{i}]")]
    if kind.startswith("dict("):
        if not isinstance(data, dict):
            return [f"{where}: expected an object"]
        inner = re.match(r"dict\(([^,]*), (.*)\)", kind).group(2)
        return [e for k, v in data.items() for e in _emby_strict(v, inner, f"{where}.{k}")]
    checks = {"str": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool),
              "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "object": lambda v: True}
    if kind in checks:
        return [] if checks[kind](data) else [f"{where}: {data!r} is not {kind}"]
    if kind in ("datetime", "date"):
        try:
            date_parser.parse(data)
        except (TypeError, ValueError, OverflowError):
            return [f"{where}: {data!r} is not a {kind}"]
        return []
    cls = getattr(emby_models, kind, None)
    if cls is None:
        return [f"{where}: unknown model {kind}"]
    allowed = _emby_enum_values(cls)
    if allowed is not None:
        return [] if data in allowed else [f"{where}: {data!r} is not one of {kind} {sorted(allowed)}"]
    if not isinstance(data, dict):
        return [f"{where}: expected a {kind} object"]
    reverse = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    errors = []
    for key, value in data.items():
        if key not in reverse:
            errors.append(f"{where}.{key}: not a field of {kind}")
        else:
            errors += _emby_strict(value, cls.swagger_types[reverse[key]], f"{where}.{key}")
    return errors


def validate_emby(kind: str, data) -> list[str]:
    errors = _emby_strict(data, kind, kind)
    try:
        _EMBY_READER._ApiClient__deserialize(data, kind)
    except Exception as error:
        errors.append(f"{kind}: embyclient cannot read it: {error}")
    return errors


def _is_list(annotation) -> bool:
    stack = [annotation]
    while stack:
        item = stack.pop()
        if typing.get_origin(item) is list:
            return True
        stack.extend(a for a in typing.get_args(item) if not isinstance(a, (str, bytes)))
    return False


def validate_jellyfin_value(annotation, values: list[str]) -> str | None:
    adapter = TypeAdapter(annotation)
    try:
        if _is_list(annotation):
            adapter.validate_json(json.dumps([v for raw in values for v in raw.split(",") if v]))
        else:
            if len(values) != 1:
                return "given more than once"
            adapter.validate_strings(values[0])
    except Exception as error:
        return str(error).splitlines()[-2 if len(str(error).splitlines()) > 1 else -1].strip()
    return None


# ----------------------------------------------------------------------------
# Real audio bytes
# ----------------------------------------------------------------------------
def _tone(seconds: float = 0.05, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "wav":
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes((_tone() * 32767).astype("<i2").tobytes())
    else:
        soundfile.write(buffer, _tone(), 8000, format={"flac": "FLAC", "ogg": "OGG"}[fmt])
    return buffer.getvalue()


AUDIO = {fmt: _encoded(fmt) for fmt in ("flac", "wav", "ogg")}
MIME = {"flac": "audio/flac", "wav": "audio/wav", "ogg": "audio/ogg"}


# ----------------------------------------------------------------------------
# The fake server
# ----------------------------------------------------------------------------
def _net_time(when: dt.datetime) -> str:
    """.NET's round-trip format: seven fractional digits and Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class FakeServer:
    """A Jellyfin (or, with flavour="emby", an Emby under /emby) holding a tiny library."""

    def __init__(self, flavour: str):
        self.flavour = flavour
        self.prefix = "/emby" if flavour == "emby" else ""
        self._numbers = itertools.count(200001)
        self.user_id = uuid.uuid4().hex             # both servers use 32-hex user ids
        self.server_id = uuid.uuid4().hex
        self.violations: list[str] = []
        self.requests: list[tuple[str, str, dict]] = []
        # failure knobs
        self.fail_status: int | None = None
        self.delay = 0.0
        self.malformed = False
        self.truncate = False
        self.no_length = False
        self._build_library()
        self.app = self._build_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- library -------------------------------------------------------------
    def new_id(self) -> str:
        """Jellyfin ids are 32-hex GUIDs; Emby's are decimal strings."""
        return uuid.uuid4().hex if self.flavour == "jellyfin" else str(next(self._numbers))

    def _build_library(self):
        self.items: dict[str, dict] = {}
        self.playlists: dict[str, dict] = {}

        def album(name, artist, year, created):
            item = dict(Id=self.new_id(), Type="MusicAlbum", Name=name, AlbumArtist=artist, ProductionYear=year,
                        created=created, artist_id=self.new_id())
            self.items[item["Id"]] = item
            return item

        def track(alb, name, disc, number, seconds, container=None, path=None, sources=None, artists=None,
                  audio=None, plays=0, last=None):
            item = dict(Id=self.new_id(), Type="Audio", Name=name, Album=alb["Name"], AlbumId=alb["Id"],
                        AlbumArtist=alb["AlbumArtist"], ProductionYear=alb["ProductionYear"],
                        ParentIndexNumber=disc, IndexNumber=number, RunTimeTicks=int(seconds * 10_000_000),
                        Artists=artists or [alb["AlbumArtist"]], container=container, path=path, sources=sources,
                        audio=audio, plays=plays, last=last, created=alb["created"])
            self.items[item["Id"]] = item
            return item

        base = dt.datetime(2024, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
        self.everything = album("Everything", "Various Artists", 2018, dt.datetime(2022, 1, 1, tzinfo=UTC))
        self.pocket = album("Pocket", "Mini", 2020, dt.datetime(2023, 12, 1, tzinfo=UTC))
        self.northern = album("Northern Lights", "Aurora Band", 2021, dt.datetime(2024, 3, 1, tzinfo=UTC))
        self.tidal = album("Tidal", "Sea Choir", 2019, dt.datetime(2024, 5, 10, 8, 30, tzinfo=UTC))
        # stored out of order on purpose: the server sorts only when asked
        self.dusk = track(self.northern, "Dusk", 2, 1, 201.0, "flac", "/music/Aurora Band/Northern Lights/2-01 Dusk.flac",
                          artists=["Aurora Band", "Guest Singer"], audio="flac")
        self.dawn = track(self.northern, "Dawn", 1, 1, 215.5, "flac", "/music/Aurora Band/Northern Lights/1-01 Dawn.flac",
                          audio="flac", plays=5, last=base)
        self.noon = track(self.northern, "Noon", 1, 2, 190.25, "flac", "/music/Aurora Band/Northern Lights/1-02 Noon.flac",
                          audio="flac")
        self.foam = track(self.tidal, "Foam", 1, 2, 60.0, "ogg", "/music/Sea Choir/Tidal/02 Foam.ogg", audio="ogg",
                          plays=2, last=base + dt.timedelta(days=5))
        self.wave = track(self.tidal, "Wave", 1, 1, 42.0, "wav", "/music/Sea Choir/Tidal/01 Wave.wav", audio="wav",
                          plays=5, last=base + dt.timedelta(days=2))
        self.tiny = track(self.pocket, "Tiny", None, 1, 10.0, "mov,mp4,m4a,3gp,3g2,mj2")
        self.small = track(self.pocket, "Small", None, 2, 12.0, None, sources=[{"Container": "mp3"}])
        self.bulk = [track(self.everything, f"Song {n:03d}", 1, n, 100.0 + n, "flac",
                           f"/music/Various/Everything/{n:03d}.flac") for n in range(1, 231)]
        road = self.new_id()
        self.items[road] = dict(Id=road, Type="Playlist", Name="Road trip", created=base)
        self.playlists[road] = {"entries": [(self.new_id(), self.dawn["Id"]), (self.new_id(), self.wave["Id"])]}

    def tracks(self) -> list[dict]:
        return [item for item in self.items.values() if item["Type"] == "Audio"]

    def playlist_track_ids(self, playlist_id: str) -> list[str]:
        return [item_id for _, item_id in self.playlists[playlist_id]["entries"]]

    # -- rendering -----------------------------------------------------------
    def render(self, item: dict, fields: set[str], user_data: bool) -> dict:
        out = {"Name": item["Name"], "ServerId": self.server_id, "Id": item["Id"], "Type": item["Type"]}
        if "DateCreated" in fields:
            out["DateCreated"] = _net_time(item["created"])
        if item["Type"] == "MusicAlbum":
            out.update(IsFolder=True, ProductionYear=item["ProductionYear"], AlbumArtist=item["AlbumArtist"],
                       Artists=[item["AlbumArtist"]],
                       AlbumArtists=[{"Name": item["AlbumArtist"], "Id": item["artist_id"]}])
            if "ChildCount" in fields:
                out["ChildCount"] = sum(1 for t in self.tracks() if t["AlbumId"] == item["Id"])
        elif item["Type"] == "Audio":
            out.update(IsFolder=False, MediaType="Audio", RunTimeTicks=item["RunTimeTicks"],
                       ProductionYear=item["ProductionYear"], Artists=item["Artists"], Album=item["Album"],
                       AlbumId=item["AlbumId"], AlbumArtist=item["AlbumArtist"])
            for key in ("IndexNumber", "ParentIndexNumber"):
                if item[key] is not None:
                    out[key] = item[key]
            if item["container"]:
                out["Container"] = item["container"]
            if "Path" in fields and item["path"]:
                out["Path"] = item["path"]
            if "MediaSources" in fields:
                sources = item["sources"] or [{"Container": item["container"], "Path": item["path"]}]
                out["MediaSources"] = [{"Protocol": "File", "Id": item["Id"], "Type": "Default",
                                        **{k: v for k, v in source.items() if v is not None}}
                                       for source in sources]
        elif item["Type"] == "Playlist":
            out.update(IsFolder=True, MediaType="Audio")
            if "ChildCount" in fields:
                out["ChildCount"] = len(self.playlists[item["Id"]]["entries"])
        if user_data:
            data = {"PlayCount": item.get("plays", 0), "IsFavorite": False, "PlaybackPositionTicks": 0,
                    "Played": item.get("plays", 0) > 0, "Key": item["Id"]}
            if item.get("last"):
                data["LastPlayedDate"] = _net_time(item["last"])
            if self.flavour == "jellyfin":
                data["ItemId"] = item["Id"]
            out["UserData"] = data
        return out

    # -- request helpers -----------------------------------------------------
    def wire(self, pascal: str) -> str:
        return pascal if self.flavour == "emby" else pascal[:1].lower() + pascal[1:]

    def arg_list(self, pascal: str) -> list[str]:
        return [v for raw in request.args.getlist(self.wire(pascal)) for v in raw.split(",") if v]

    def arg(self, pascal: str, default=None):
        return request.args.get(self.wire(pascal), default)

    def query_result(self, items: list[dict], start: int, total: int) -> dict:
        result = {"Items": items, "TotalRecordCount": total}
        if self.flavour == "jellyfin":
            result["StartIndex"] = start
        return result

    SORT_KEYS = {
        "DateCreated": lambda i: i["created"],
        "SortName": lambda i: i["Name"].lower(),
        "Name": lambda i: i["Name"].lower(),
        "ParentIndexNumber": lambda i: i.get("ParentIndexNumber") or 0,
        "IndexNumber": lambda i: i.get("IndexNumber") or 0,
        "PlayCount": lambda i: i.get("plays", 0),
        "DatePlayed": lambda i: i.get("last") or dt.datetime.min.replace(tzinfo=UTC),
    }

    def query_items(self, user_id: str | None):
        if user_id != self.user_id:
            return Response(status=404)
        found = list(self.items.values())
        if types := self.arg_list("IncludeItemTypes"):
            found = [i for i in found if i["Type"] in types]
        if ids := self.arg_list("Ids"):
            found = [i for i in found if i["Id"] in ids]
        if parent := self.arg("ParentId"):
            found = [i for i in found if i.get("AlbumId") == parent]
        if "IsPlayed" in self.arg_list("Filters"):
            found = [i for i in found if i.get("plays", 0) > 0]
        sort_by, orders = self.arg_list("SortBy"), self.arg_list("SortOrder")
        for position in reversed(range(len(sort_by))):      # Jellyfin's rule: missing orders take the first
            order = orders[position] if position < len(orders) else (orders[0] if orders else "Ascending")
            key = self.SORT_KEYS.get(sort_by[position])
            if key is None:
                self.violations.append(f"fake cannot sort by {sort_by[position]}")
                continue
            found.sort(key=key, reverse=order == "Descending")
        start = int(self.arg("StartIndex", 0))
        limit = self.arg("Limit")
        page = found[start:start + int(limit)] if limit is not None else found[start:]
        fields = set(self.arg_list("Fields"))
        user_data = self.arg("EnableUserData", "true") != "false"
        return self.query_result([self.render(i, fields, user_data) for i in page], start, len(found))

    # -- the app -------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask(f"fake-{self.flavour}")
        p = self.prefix
        fake = self

        @app.before_request
        def check_request():
            path = request.path[len(p):] if p and request.path.startswith(p) else None
            if p and path is None:
                path = request.path
                fake.violations.append(f"{request.method} {path}: not under {p}")
            path = path if path is not None else request.path
            fake.requests.append((request.method, path, request.args.to_dict(flat=False)))
            if TOKEN in request.url or "api_key" in {k.lower() for k in request.args}:
                fake.violations.append(f"{request.method} {path}: the API key is in the URL")
            op = find_operation(fake.flavour, request.method, path)
            if op is None:
                fake.violations.append(f"{request.method} {path}: no such operation in the generated API")
                return Response("no such operation", status=404)
            problems = [f"query parameter {name!r} is not a parameter of {op.name}"
                        for name in request.args if name not in op.query]
            if fake.flavour == "jellyfin":
                problems += fake.check_jellyfin_values(op, path)
                if op.body_model is not None and request.data:
                    try:
                        dto = op.body_model.model_validate_json(request.data)
                        problems += _unknown_keys(dto, json.loads(request.data), op.body_model.__name__)
                    except Exception as error:
                        problems.append(f"body is not a valid {op.body_model.__name__}: {error}")
            elif request.data:
                problems.append(f"{op.name} takes no body")
            if problems:
                fake.violations += [f"{request.method} {path}: {problem}" for problem in problems]
                return Response("; ".join(problems), status=400)
            request.environ["fake.operation"] = op
            if op.name in ("get_public_system_info",):
                return None
            if request.headers.get("X-Emby-Token") != TOKEN:
                return Response("Unauthorized", status=401)
            authorization = request.headers.get("Authorization")
            if authorization and f'Token="{TOKEN}"' not in authorization:
                return Response("Unauthorized", status=401)
            if fake.delay:
                time.sleep(fake.delay)
            if fake.fail_status:
                return Response("boom", status=fake.fail_status)
            if fake.malformed:
                return Response("<html>proxy error", status=200, mimetype="application/json")
            return None

        @app.after_request
        def check_response(response: Response):
            op = request.environ.get("fake.operation")
            if op is None or fake.malformed or response.status_code >= 400:
                return response
            before = len(fake.violations)
            fake.violations += fake.check_answer(op, response)
            if len(fake.violations) > before:     # never send what the vendor's models reject
                return Response("the fake's answer failed validation", status=500)
            return response

        @app.get(p + "/System/Info/Public")
        def public_info():
            info = {"LocalAddress": fake.url, "ServerName": "den", "Version": "10.11.2", "Id": fake.server_id}
            if fake.flavour == "jellyfin":
                info.update(ProductName="Jellyfin Server", OperatingSystem="Linux", StartupWizardCompleted=True)
            else:
                info["Version"] = "4.9.0.33"
            return info

        @app.get(p + "/Users/<user_id>")
        def user(user_id):
            if not re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}", user_id):
                return Response("The value is not valid.", status=400)
            if user_id.replace("-", "").lower() != fake.user_id:
                return Response(status=404)
            return {"Name": "alice", "ServerId": fake.server_id, "Id": fake.user_id, "HasPassword": True,
                    "HasConfiguredPassword": True, "EnableAutoLogin": False,
                    "LastLoginDate": _net_time(dt.datetime(2024, 6, 1, tzinfo=UTC))}

        if fake.flavour == "jellyfin":
            @app.get("/Items")
            def items():
                return fake.query_items(request.args.get("userId"))
        else:
            @app.get(p + "/Users/<user_id>/Items")
            def items(user_id):
                return fake.query_items(user_id)

        @app.get(p + "/Items/<item_id>/Download")
        def download(item_id):
            item = fake.items.get(item_id)
            if item is None or not item.get("audio"):
                return Response(status=404)
            data = AUDIO[item["audio"]]
            filename = item["path"].rsplit("/", 1)[-1]
            headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
            if fake.truncate:
                response = Response(data[: len(data) // 2], headers=headers, mimetype=MIME[item["audio"]])
                response.headers.update({"Content-Length": str(len(data) + 1000), "Connection": "close"})
                return response
            if fake.no_length:
                return Response((data[i:i + 512] for i in range(0, len(data), 512)), headers=headers,
                                mimetype=MIME[item["audio"]])
            return Response(data, headers=headers, mimetype=MIME[item["audio"]])

        @app.get(p + "/Audio/<item_id>/stream")
        def audio_stream(item_id):
            item = fake.items.get(item_id)
            if item is None or not item.get("audio"):
                return Response(status=404)
            if fake.arg("Static") != "true":
                fake.violations.append("audio stream without static=true: the server would transcode")
            data = AUDIO[item["audio"]]
            # Both servers serve a static file with ASP.NET's range processing: 206 for a Range.
            return Response(data, mimetype=MIME[item["audio"]]).make_conditional(
                request, accept_ranges=True, complete_length=len(data))

        def add_entries(playlist_id: str, ids: list[str]) -> int:
            unknown = [i for i in ids if i not in fake.items]
            if unknown:
                fake.violations.append(f"playlist ids unknown to the server: {unknown[:3]}")
            fake.playlists[playlist_id]["entries"] += [(fake.new_id(), i) for i in ids if i in fake.items]
            return len(ids) - len(unknown)

        @app.post(p + "/Playlists")
        def create_playlist():
            if fake.flavour == "jellyfin":
                body = request.get_json()
                name, ids, media = body.get("Name"), body.get("Ids") or [], body.get("MediaType")
                if body.get("UserId") != fake.user_id:
                    fake.violations.append("CreatePlaylistDto.UserId is not the configured user")
            else:
                name, ids, media = request.args.get("Name"), fake.arg_list("Ids"), request.args.get("MediaType")
            if media != "Audio":
                fake.violations.append(f"playlist MediaType {media!r}")
            playlist_id = fake.new_id()
            fake.items[playlist_id] = dict(Id=playlist_id, Type="Playlist", Name=name,
                                           created=dt.datetime.now(UTC))
            fake.playlists[playlist_id] = {"entries": []}
            added = add_entries(playlist_id, ids)
            if fake.flavour == "jellyfin":
                return {"Id": playlist_id}
            return {"Id": playlist_id, "Name": name, "ItemAddedCount": added}

        @app.post(p + "/Playlists/<playlist_id>/Items")
        def add_to_playlist(playlist_id):
            if playlist_id not in fake.playlists:
                return Response(status=404)
            if fake.arg("UserId") != fake.user_id:
                fake.violations.append("add to playlist without the configured UserId")
            added = add_entries(playlist_id, fake.arg_list("Ids"))
            if fake.flavour == "jellyfin":
                return Response(status=204)
            return {"Id": playlist_id, "ItemAddedCount": added}

        @app.get(p + "/Playlists/<playlist_id>/Items")
        def playlist_items(playlist_id):
            if playlist_id not in fake.playlists:
                return Response(status=404)
            entries = fake.playlists[playlist_id]["entries"]
            start = int(fake.arg("StartIndex", 0))
            limit = fake.arg("Limit")
            page = entries[start:start + int(limit)] if limit is not None else entries[start:]
            rendered = [{**fake.render(fake.items[item_id], set(), False), "PlaylistItemId": entry}
                        for entry, item_id in page]
            return fake.query_result(rendered, start, len(entries))

        @app.delete(p + "/Playlists/<playlist_id>/Items")
        def remove_from_playlist(playlist_id):
            if playlist_id not in fake.playlists:
                return Response(status=404)
            gone = set(fake.arg_list("EntryIds"))
            entries = fake.playlists[playlist_id]["entries"]
            if gone - {entry for entry, _ in entries}:
                fake.violations.append("removing entry ids the playlist does not have")
            fake.playlists[playlist_id]["entries"] = [e for e in entries if e[0] not in gone]
            return Response(status=204)

        @app.delete(p + "/Items/<item_id>")
        def delete_item(item_id):
            if item_id not in fake.items:
                return Response(status=404)
            del fake.items[item_id]
            fake.playlists.pop(item_id, None)
            return Response(status=204)

        return app

    def check_answer(self, op: Operation, response: Response) -> list[str]:
        """The answer against the operation's declared statuses and response model."""
        status = str(response.status_code)
        is_json = response.mimetype == "application/json"
        if self.flavour == "jellyfin":
            # Range processing answers 206 where the document declares the file's 200.
            declared = op.responses.get("200" if status == "206" else status)
            if declared is None:
                return [f"{op.name} answered {status}, not a status the API declares"]
            if declared == "None":
                return [f"{op.name} must answer {status} without a body"] if response.get_data() else []
            return validate_jellyfin(declared, response.get_json()) if is_json else []
        if not is_json:
            return []
        if not op.response_type:
            return [f"{op.name} declares no JSON answer"]
        return validate_emby(op.response_type, response.get_json())

    def check_jellyfin_values(self, op: Operation, path: str) -> list[str]:
        problems = []
        for wire in set(request.args):
            if wire in op.query:
                error = validate_jellyfin_value(op.annotations[op.query[wire]], request.args.getlist(wire))
                if error:
                    problems.append(f"{wire}={request.args.getlist(wire)}: {error}")
        names = re.findall(r"\{(\w+)\}", op.template)
        match = re.match("^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(op.template)) + "$", path)
        for name, value in zip(names, match.groups() if match else ()):
            python = op.path.get(name)
            if python and op.name != "get_user_by_id":   # a bad user id is the user's mistake: 400 below
                error = validate_jellyfin_value(op.annotations[python], [value])
                if error:
                    problems.append(f"path {name}={value!r}: {error}")
        return problems


# ----------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------
FLAVOURS = {"jellyfin": JellyfinProvider, "emby": EmbyProvider}


@pytest.fixture(params=["jellyfin", "emby"])
def fake(request):
    server = FakeServer(request.param)
    yield server
    server.close()
    if not getattr(server, "violations_expected", False):
        assert server.violations == [], "\n".join(server.violations)


def provider_for(fake: FakeServer, token: str = TOKEN, user_id: str | None = None, read_timeout: float = 5.0,
                 url: str | None = None):
    cls = FLAVOURS[fake.flavour]
    url = url or fake.url
    return cls(url, fake.user_id if user_id is None else user_id, token,
               http=HttpClient(url, cls.label, read_timeout=read_timeout))


def assert_secret_free(error: BaseException):
    assert TOKEN not in str(error)
    assert "bad-key-123" not in str(error)


# ----------------------------------------------------------------------------
# The interface
# ----------------------------------------------------------------------------
def test_connection_ok(fake):
    message = provider_for(fake).test_connection()
    version = "10.11.2" if fake.flavour == "jellyfin" else "4.9.0.33"
    assert message == f"{FLAVOURS[fake.flavour].label} {version} answered: user alice"


@pytest.mark.parametrize("bad_user", ["0123456789abcdef0123456789abcdef", "not-a-guid"])
def test_connection_unknown_user(fake, bad_user):
    with pytest.raises(NotFound) as caught:
        provider_for(fake, user_id=bad_user).test_connection()
    setting = "JELLYFIN_USER_ID" if fake.flavour == "jellyfin" else "EMBY_USER_ID"
    label = FLAVOURS[fake.flavour].label
    assert str(caught.value) == f"{label} user id not found: check {setting}"
    assert_secret_free(caught.value)


def test_connection_bad_key(fake):
    with pytest.raises(AuthFailed) as caught:
        provider_for(fake, token="bad-key-123").test_connection()
    assert str(caught.value) == f"{FLAVOURS[fake.flavour].label} answered 401: wrong API key"
    assert_secret_free(caught.value)


def test_albums_newest_first_and_paged(fake):
    provider = provider_for(fake)
    albums = provider.albums(0, 10)
    assert [a.name for a in albums] == ["Tidal", "Northern Lights", "Pocket", "Everything"]
    tidal = albums[0]
    assert tidal == Album(id=fake.tidal["Id"], name="Tidal", artist="Sea Choir", year=2019, track_count=2,
                          added_at=dt.datetime(2024, 5, 10, 8, 30, tzinfo=UTC))
    assert tidal.added_at.tzinfo is not None
    assert albums[3].track_count == 230
    assert [a.name for a in provider.albums(1, 2)] == ["Northern Lights", "Pocket"]
    assert [a.name for a in provider.iter_albums(page=3)] == [a.name for a in albums]


def test_album_tracks(fake):
    provider = provider_for(fake)
    tracks = provider.album_tracks(fake.northern["Id"])
    assert [(t.disc_number, t.track_number, t.title) for t in tracks] == [(1, 1, "Dawn"), (1, 2, "Noon"),
                                                                          (2, 1, "Dusk")]
    dawn, _, dusk = tracks
    assert dawn.id == fake.dawn["Id"] and isinstance(dawn.id, str)
    assert dawn.duration == pytest.approx(215.5) and dawn.format == "flac" and dawn.year == 2021
    assert dawn.album == "Northern Lights" and dawn.album_artist == "Aurora Band" and dawn.artist == "Aurora Band"
    assert dawn.album_id == fake.northern["Id"]
    assert dusk.artist == "Aurora Band, Guest Singer"
    # formats without a Path: MP4 container list, and MediaSources only
    pocket = provider.album_tracks(fake.pocket["Id"])
    assert [(t.title, t.format, t.disc_number) for t in pocket] == [("Tiny", "m4a", None), ("Small", "mp3", None)]
    tidal = provider.album_tracks(fake.tidal["Id"])
    assert [(t.title, t.format, t.duration) for t in tidal] == [("Wave", "wav", 42.0), ("Foam", "ogg", 60.0)]
    assert len(provider.album_tracks(fake.everything["Id"])) == 230


def test_download_uses_known_format(fake, tmp_path):
    provider = provider_for(fake)
    provider.album_tracks(fake.tidal["Id"])
    path = provider.download(fake.foam["Id"], tmp_path)
    assert path.parent == tmp_path and path.suffix == ".ogg"
    assert path.read_bytes() == AUDIO["ogg"]
    assert soundfile.info(str(path)).format == "OGG"


def test_download_suffix_from_content_disposition(fake, tmp_path):
    provider = provider_for(fake)        # has not seen the album: suffix from the answer's headers
    flac = provider.download(fake.dawn["Id"], tmp_path)
    wav = provider.download(fake.wave["Id"], tmp_path)
    assert (flac.suffix, wav.suffix) == (".flac", ".wav")
    assert soundfile.read(str(flac))[0].shape[0] == 400
    assert wav.read_bytes() == AUDIO["wav"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([flac.name, wav.name])


def _read(audio) -> bytes:
    try:
        return b"".join(audio.chunks)
    finally:
        audio.close()


def test_stream_static_file_with_ranges_key_in_header(fake):
    provider = provider_for(fake)
    content = AUDIO["flac"]
    whole = provider.stream(fake.dawn["Id"])
    assert (whole.status, whole.content_type, whole.size) == (200, "audio/flac", len(content))
    assert _read(whole) == content
    part = provider.stream(fake.dawn["Id"], "bytes=8-15")
    assert (part.status, part.content_range, part.length) == (206, f"bytes 8-15/{len(content)}", 8)
    assert _read(part) == content[8:16]
    with pytest.raises(RangeNotSatisfiable) as caught:
        provider.stream(fake.dawn["Id"], f"bytes={len(content)}-")
    assert caught.value.size == len(content) and TOKEN not in str(caught.value)
    with pytest.raises(NotFound):
        provider.stream(fake.tiny["Id"])     # no audio on the fake's server
    streams = [r for r in fake.requests if r[1].endswith("/stream")]
    # The fake answers 401 without the key in X-Emby-Token, and records any URL that carries it.
    assert len(streams) == 4 and all(TOKEN not in str(r) for r in streams)
    assert streams[0][2] == {("static" if fake.flavour == "jellyfin" else "Static"): ["true"]}


def test_stream_api_keeps_the_key_server_side(fake, env, monkeypatch, caplog):
    """What the browser sees of GET /api/stream/<id>: Sonarium's own URL, audio, and no API key anywhere."""
    caplog.set_level("DEBUG")      # every log line, the requests library's included
    from app import create_app
    from db.models import Track
    from db.session import session_scope
    from tests.support import signed_in
    prefix = fake.flavour.upper()
    with session_scope() as session:
        session.add(Track(provider=fake.flavour, item_id=fake.wave["Id"], title="Wave"))
    for name, value in (("MEDIASERVER_TYPE", fake.flavour), (f"{prefix}_URL", fake.url),
                        (f"{prefix}_USER_ID", fake.user_id), (f"{prefix}_TOKEN", TOKEN)):
        monkeypatch.setenv(name, value)
    client = signed_in(create_app({"TESTING": True}).test_client(), role="listener")
    answer = client.get(f"/api/stream/{fake.wave['Id']}", headers={"Range": "bytes=0-43"})
    assert answer.status_code == 206 and answer.data == AUDIO["wav"][:44]
    assert answer.headers["Content-Type"] == "audio/wav"
    assert TOKEN not in str(answer.headers) and TOKEN.encode() not in answer.data
    fake.fail_status = 500
    failed = client.get(f"/api/stream/{fake.wave['Id']}")
    assert failed.status_code == 502 and TOKEN not in failed.get_data(as_text=True)
    assert TOKEN not in caplog.text


def test_playlist_longer_than_one_batch_keeps_order(fake):
    provider = provider_for(fake)
    ids = [t["Id"] for t in fake.bulk] + [fake.dawn["Id"], fake.wave["Id"], fake.dawn["Id"]]
    random.Random(7).shuffle(ids)
    playlist_id = provider.create_playlist("Sonarium mix 1", ids)
    assert fake.playlist_track_ids(playlist_id) == ids
    assert fake.items[playlist_id]["Name"] == "Sonarium mix 1"
    adds = [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/Items")]
    assert len(adds) == 2       # 233 ids: 100 at creation, then 100 + 33
    ids_param = "ids" if fake.flavour == "jellyfin" else "Ids"
    assert all(len(r[2][ids_param][0].split(",")) <= 100 for r in adds)
    listed = {p.id: p for p in provider.playlists()}
    assert listed[playlist_id] == RemotePlaylist(id=playlist_id, name="Sonarium mix 1", track_count=233)


def test_small_and_empty_playlists(fake):
    provider = provider_for(fake)
    one = provider.create_playlist("Two", [fake.noon["Id"], fake.dawn["Id"]])
    empty = provider.create_playlist("Nothing yet", [])
    assert fake.playlist_track_ids(one) == [fake.noon["Id"], fake.dawn["Id"]]
    assert fake.playlist_track_ids(empty) == []
    assert not [r for r in fake.requests if r[0] == "POST" and r[1].endswith("/Items")]


def test_playlists_lists_existing(fake):
    names = {p.name: p.track_count for p in provider_for(fake).playlists()}
    assert names == {"Road trip": 2}


def test_replace_playlist_in_place(fake):
    provider = provider_for(fake)
    playlist_id = provider.create_playlist("Sonarium mix", [t["Id"] for t in fake.bulk[:150]])
    new = [fake.wave["Id"], fake.dawn["Id"]] + [t["Id"] for t in fake.bulk[200:]]
    assert provider.replace_playlist(playlist_id, "Sonarium mix", new) == playlist_id
    assert fake.playlist_track_ids(playlist_id) == new
    deletes = [r for r in fake.requests if r[0] == "DELETE" and r[1].endswith("/Items")]
    assert len(deletes) == 2            # 150 entries: two batches


def test_replace_playlist_with_new_name_makes_a_new_one(fake):
    provider = provider_for(fake)
    old = provider.create_playlist("Old name", [fake.dawn["Id"]])
    new = provider.replace_playlist(old, "New name", [fake.noon["Id"], fake.dusk["Id"]])
    assert new != old and old not in fake.items
    assert fake.items[new]["Name"] == "New name"
    assert fake.playlist_track_ids(new) == [fake.noon["Id"], fake.dusk["Id"]]


def test_replace_unknown_playlist(fake):
    with pytest.raises(NotFound):
        provider_for(fake).replace_playlist(fake.new_id(), "x", [fake.dawn["Id"]])


def test_delete_playlist(fake):
    provider = provider_for(fake)
    playlist_id = provider.create_playlist("Gone soon", [fake.dawn["Id"]])
    provider.delete_playlist(playlist_id)
    assert playlist_id not in fake.items
    assert [p.name for p in provider.playlists()] == ["Road trip"]
    with pytest.raises(NotFound):
        provider.delete_playlist(playlist_id)


def test_listening_history(fake):
    history = provider_for(fake).listening_history(limit=10)
    assert history == [
        PlayRecord(track_id=fake.wave["Id"], play_count=5, last_played=fake.wave["last"], title="Wave",
                   artist="Sea Choir"),
        PlayRecord(track_id=fake.dawn["Id"], play_count=5, last_played=fake.dawn["last"], title="Dawn",
                   artist="Aurora Band"),
        PlayRecord(track_id=fake.foam["Id"], play_count=2, last_played=fake.foam["last"], title="Foam",
                   artist="Sea Choir"),
    ]
    assert all(r.last_played.tzinfo is not None for r in history)
    assert len(provider_for(fake).listening_history(limit=1)) == 1


def test_token_only_in_header(fake):
    provider = provider_for(fake)
    provider.test_connection()
    provider.albums()
    provider.create_playlist("x", [fake.dawn["Id"]])
    assert fake.requests and all(TOKEN not in json.dumps(r) for r in fake.requests)


def test_from_settings():
    class Settings:
        jellyfin_url = "http://jf.local:8096/"
        jellyfin_user_id = "0123456789abcdef0123456789abcdef"
        jellyfin_token = TOKEN
        emby_url = "http://emby.local:8096/emby"
        emby_user_id = "fedcba9876543210fedcba9876543210"
        emby_token = TOKEN

    jellyfin = JellyfinProvider.from_settings(Settings())
    emby = EmbyProvider.from_settings(Settings())
    assert (jellyfin.type, jellyfin.label, emby.type, emby.label) == ("jellyfin", "Jellyfin", "emby", "Emby")
    assert jellyfin.http.base_url == "http://jf.local:8096" and jellyfin.user_id == Settings.jellyfin_user_id
    assert emby.http.base_url == "http://emby.local:8096" and emby.prefix == "/emby"   # /emby not doubled
    assert emby.http.session.headers["X-Emby-Token"] == TOKEN

    class Missing(Settings):
        emby_token = None

    with pytest.raises(ProviderError, match="EMBY_TOKEN") as caught:
        EmbyProvider.from_settings(Missing())
    assert_secret_free(caught.value)


def test_parse_time():
    assert parse_time("2024-06-01T10:00:00.1234567Z") == dt.datetime(2024, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_time("2024-06-01T10:00:00") == dt.datetime(2024, 6, 1, 10, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00.0000000Z") is None
    assert parse_time("garbage") is None and parse_time(None) is None


# ----------------------------------------------------------------------------
# Failures
# ----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("flavour", ["jellyfin", "emby"])
def test_server_down(flavour, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}"
    cls = FLAVOURS[flavour]
    provider = cls(url, uuid.uuid4().hex, TOKEN, http=HttpClient(url, cls.label, read_timeout=1))
    for call in (provider.test_connection, provider.albums, provider.playlists,
                 lambda: provider.download("123", tmp_path)):
        with pytest.raises(Unreachable) as caught:
            call()
        assert str(caught.value) == f"cannot reach {url}: connection refused"
        assert_secret_free(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unauthorized(fake, tmp_path):
    provider = provider_for(fake, token="bad-key-123")
    for call in (provider.albums, provider.playlists, lambda: provider.listening_history(5),
                 lambda: provider.create_playlist("x", [fake.dawn["Id"]]),
                 lambda: provider.download(fake.dawn["Id"], tmp_path)):
        with pytest.raises(AuthFailed, match="answered 401: wrong API key") as caught:
            call()
        assert_secret_free(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_server_error(fake, tmp_path):
    provider = provider_for(fake)
    fake.fail_status = 500
    for call in (provider.test_connection, provider.albums, lambda: provider.album_tracks(fake.tidal["Id"]),
                 lambda: provider.delete_playlist(fake.new_id()), lambda: provider.download(fake.dawn["Id"], tmp_path)):
        with pytest.raises(ProviderError) as caught:
            call()
        assert str(caught.value) == f"{FLAVOURS[fake.flavour].label} answered 500: server error"
        assert_secret_free(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_timeout(fake, tmp_path):
    provider = provider_for(fake, read_timeout=0.3)
    fake.delay = 1.0
    started = time.monotonic()
    for call in (provider.albums, lambda: provider.download(fake.dawn["Id"], tmp_path)):
        with pytest.raises(Unreachable, match="did not answer within") as caught:
            call()
        assert_secret_free(caught.value)
    assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == []


def test_malformed_json(fake):
    provider = provider_for(fake)
    fake.malformed = True
    for call in (provider.albums, provider.listening_history, provider.playlists):
        with pytest.raises(ProviderError) as caught:
            call()
        assert str(caught.value) == f"{FLAVOURS[fake.flavour].label} sent a malformed answer (not JSON)"
        assert_secret_free(caught.value)


def test_truncated_download(fake, tmp_path):
    fake.truncate = True
    with pytest.raises(ProviderError) as caught:
        provider_for(fake, read_timeout=2).download(fake.dawn["Id"], tmp_path)
    assert "download" in str(caught.value) and not isinstance(caught.value, DownloadTooLarge)
    assert_secret_free(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("announced", [True, False])
def test_download_too_large(fake, tmp_path, announced):
    fake.no_length = not announced
    provider = provider_for(fake)
    provider.album_tracks(fake.northern["Id"])
    with pytest.raises(DownloadTooLarge) as caught:
        provider.download(fake.dawn["Id"], tmp_path, max_bytes=100)
    assert_secret_free(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_download_unknown_track(fake, tmp_path):
    with pytest.raises(NotFound):
        provider_for(fake).download(fake.new_id(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fake_rejects_what_the_generated_api_does_not_know(fake):
    """The checks themselves: a wrong parameter name or value is refused and recorded."""
    fake.violations_expected = True
    provider = provider_for(fake)
    path = "/Items" if fake.flavour == "jellyfin" else f"/Users/{fake.user_id}/Items"
    with pytest.raises(ProviderError):
        provider.http.json("GET", fake.prefix + path, params={"userid": fake.user_id, "SortBy": "Bogus"})
    assert fake.violations and "is not a parameter of" in fake.violations[0]
    if fake.flavour == "jellyfin":
        fake.violations.clear()
        with pytest.raises(ProviderError):
            provider.http.json("GET", "/Items", params={"userId": fake.user_id, "sortBy": "Bogus"})
        assert "sortBy" in fake.violations[0]
        fake.violations.clear()
        assert validate_jellyfin("BaseItemDtoQueryResult", {"Items": [{"Id": "12", "Type": "Song"}]})
        assert validate_jellyfin("BaseItemDtoQueryResult", {"Items": [], "Bogus": 1})
    else:
        assert validate_emby("QueryResultBaseItemDto", {"Items": [], "StartIndex": 0})
        assert validate_emby("QueryResultBaseItemDto", {"Items": [{"Id": 12}]})
        assert validate_emby("UserItemDataDto", {"LastPlayedDate": "yesterday-ish"})
        assert validate_emby("MediaSourceInfo", {"Protocol": "Carrier pigeon"})
