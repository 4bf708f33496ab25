"""Library scan: count the audio files under MUSIC_DIR and read their tags.

The parent lists the folders that hold audio files and runs one child per
folder; each child reads its files' tags with mutagen.  The result (files,
tagged, untagged, unreadable, hours of audio, formats) is the parent's details.
"""
from __future__ import annotations

import os
from pathlib import Path

import mutagen

import settings_store
from analysis.decode import AUDIO_EXTENSIONS
from mediaserver.local import read_tags
from tasks import queues, store
from tasks.registry import task_type
from tasks.runner import TaskContext

_COUNTS = ("files", "tagged", "untagged", "unreadable", "seconds")
_UNREADABLE_SHOWN = 20


def _audio_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries
                      if e.is_file() and os.path.splitext(e.name)[1].lower() in AUDIO_EXTENSIONS)


def _folders_with_audio(root: Path) -> list[str]:
    found = []
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        if any(os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS for name in files):
            found.append(os.path.relpath(current, root))
    return found


@task_type("library_scan", queue=queues.HIGH, job_timeout=24 * 3600, title="Library scan", main=True)
def scan_library(ctx: TaskContext) -> str:
    root = settings_store.effective().music_dir
    if not root.is_dir():
        raise FileNotFoundError(f"MUSIC_DIR {root} is not a folder")
    ctx.progress(0, f"listing folders under {root}")
    folders = _folders_with_audio(root)
    ctx.log(f"{len(folders)} folders with audio files under {root}")
    ctx.set_details(folders=len(folders))

    def show(counts: dict[str, int]) -> None:
        ctx.set_details(children=counts)

    # The children get the root the folders were listed under: a MUSIC_DIR saved
    # mid-scan must not send them to read the same names somewhere else.
    children = ((folder, {"folder": folder, "root": str(root)}) for folder in folders)
    counts = ctx.run_children("library_scan.folder", children,
                              total=len(folders), on_progress=show)
    totals = store.sum_child_details(ctx.task_id, _COUNTS)
    summary = {key: int(totals[key]) for key in _COUNTS if key != "seconds"}
    summary["hours"] = round(totals["seconds"] / 3600, 2)
    summary["formats"] = store.sum_child_detail_map(ctx.task_id, "formats")
    summary["failed_folders"] = counts.get("FAILURE", 0)
    ctx.set_details(result=summary)
    return (f"{summary['files']} audio files in {len(folders)} folders, {summary['hours']} h; "
            f"{summary['untagged']} without tags, {summary['unreadable']} unreadable")


@task_type("library_scan.folder", queue=queues.DEFAULT, job_timeout=3600, title="Scan folder")
def scan_folder(ctx: TaskContext, folder: str, root: str) -> str:
    path = Path(root) / folder
    files = _audio_files(path)
    counts = dict.fromkeys(_COUNTS, 0)
    formats: dict[str, int] = {}
    unreadable: list[dict[str, str]] = []
    for number, file in enumerate(files, start=1):
        ctx.check_cancelled()
        counts["files"] += 1
        extension = file.suffix.lower().lstrip(".")
        formats[extension] = formats.get(extension, 0) + 1
        try:
            audio = mutagen.File(file, easy=True)
            if audio is None:
                raise ValueError("not a recognised audio format")
        except Exception as error:  # mutagen raises many types for damaged files
            counts["unreadable"] += 1
            if len(unreadable) < _UNREADABLE_SHOWN:
                unreadable.append({"file": file.name, "reason": f"{type(error).__name__}: {error}"})
            continue
        tags = read_tags(file)
        counts["tagged" if tags.get("title") and tags.get("artist") else "untagged"] += 1
        counts["seconds"] += float(getattr(audio.info, "length", 0) or 0)
        ctx.progress(100 * number / len(files), f"{folder}: {number}/{len(files)}")
    counts["seconds"] = round(counts["seconds"], 1)
    ctx.set_details(**counts, formats=formats, unreadable_files=unreadable)
    return f"{counts['files']} files, {counts['unreadable']} unreadable"
