"""Choosing the provider from MEDIASERVER_TYPE (config.py has already checked its settings)."""
from __future__ import annotations

import importlib

from mediaserver.base import MediaProvider

_PROVIDERS = {
    "local": ("mediaserver.local", "LocalProvider"),
    "navidrome": ("mediaserver.navidrome", "NavidromeProvider"),
    "jellyfin": ("mediaserver.jellyfin", "JellyfinProvider"),
    "emby": ("mediaserver.jellyfin", "EmbyProvider"),
    "lyrion": ("mediaserver.lyrion", "LyrionProvider"),
}


def provider_for(settings) -> MediaProvider:
    """The provider MEDIASERVER_TYPE names, built from its settings."""
    module, name = _PROVIDERS[settings.mediaserver_type]
    return getattr(importlib.import_module(module), name).from_settings(settings)
