"""Helpers for the browser tests: pick a song, read the results, read the saved playlist; where screenshots go."""
from __future__ import annotations

import re
from pathlib import Path

from mediaserver.local import decode_id

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"   # screenshots, for a person to look at


def pick(page, selector: str, typed: str, title: str) -> None:
    """Type into a song picker and click the option whose title is exactly `title`."""
    page.fill(selector, typed)
    option = page.locator(f"{selector}-options li[role=option]").filter(
        has=page.locator(".picker-title", has_text=re.compile(f"^{re.escape(title)}$")))
    option.click()


def playlist_files(playlist_file: Path) -> list[str]:
    """The file paths an .m3u8 playlist lists, in order."""
    lines = playlist_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    return [line for line in lines[1:] if not line.startswith("#")]


def files_of_rows(page, music_dir: Path, within: str = "") -> list[str]:
    """The files behind the rows of the results table (inside `within`, a CSS selector), in order."""
    item_ids = page.locator(f"{within} table.tracks tbody tr".strip()).evaluate_all(
        "rows => rows.map(row => row.dataset.itemId)")
    return [str(music_dir / decode_id(item_id).decode()) for item_id in item_ids]
