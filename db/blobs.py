"""Large binary blobs (the similarity index) stored in chunks.

A 180 MiB index sent as one bytea parameter pushed psycopg2 past 2 GB RSS
(hex encoding plus copies).  Writing 8 MiB chunks from a stream and reading
them back into one preallocated buffer keeps the overhead to about one chunk.
"""
from __future__ import annotations

import hashlib
from typing import BinaryIO

from sqlalchemy import delete, func, select

from db.models import IndexBlob, IndexBlobChunk
from db.session import session_scope

CHUNK_BYTES = 8 * 1024 * 1024


def store_blob(name: str, stream: BinaryIO, meta: dict | None = None, keep: int = 2) -> int:
    """Store everything read from `stream` as the next version of `name`.

    All chunks and the header row commit in one transaction, so a crash never
    leaves a half-written blob visible.  Older versions beyond `keep` are
    deleted.  Returns the new version number.
    """
    digest = hashlib.sha256()
    size = 0
    with session_scope() as session:
        latest = session.scalar(select(func.max(IndexBlob.version)).where(IndexBlob.name == name))
        blob = IndexBlob(name=name, version=(latest or 0) + 1, size=0, sha256="", meta=meta or {})
        session.add(blob)
        session.flush()
        seq = 0
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            session.add(IndexBlobChunk(blob_id=blob.id, seq=seq, data=chunk))
            session.flush()
            session.expunge_all()  # drop the chunk from the identity map right away
            session.add(blob)
            seq += 1
        blob.size = size
        blob.sha256 = digest.hexdigest()
        session.flush()
        old = select(IndexBlob.id).where(IndexBlob.name == name).order_by(IndexBlob.version.desc()).offset(keep)
        session.execute(delete(IndexBlob).where(IndexBlob.id.in_(old.scalar_subquery())))
        return blob.version


def latest_blob_info(name: str, version: int | None = None) -> dict | None:
    """The header of the newest version of `name` (or of `version`); None when there is none."""
    query = select(IndexBlob).where(IndexBlob.name == name)
    if version is not None:
        query = query.where(IndexBlob.version == version)
    with session_scope() as session:
        blob = session.scalars(query.order_by(IndexBlob.version.desc()).limit(1)).first()
        if blob is None:
            return None
        return {"id": blob.id, "name": blob.name, "version": blob.version, "size": blob.size,
                "sha256": blob.sha256, "meta": blob.meta, "created_at": blob.created_at}


def latest_meta_value(name: str, key: str) -> str | None:
    """One value of the newest version's meta, as text, read without the rest of the header."""
    with session_scope() as session:
        return session.scalar(select(IndexBlob.meta[key].astext).where(IndexBlob.name == name)
                              .order_by(IndexBlob.version.desc()).limit(1))


def load_blob(name: str, version: int | None = None) -> tuple[dict, bytearray] | None:
    """The newest version of `name` (or `version`) as (info, bytes), or None if there is none.

    Chunks are fetched one at a time into a buffer of the final size.
    Raises ValueError if the stored checksum does not match.
    """
    info = latest_blob_info(name, version)
    if info is None:
        return None
    buffer = bytearray(info["size"])
    view = memoryview(buffer)
    offset = 0
    digest = hashlib.sha256()
    with session_scope() as session:
        for seq in session.scalars(select(IndexBlobChunk.seq).where(IndexBlobChunk.blob_id == info["id"])
                                   .order_by(IndexBlobChunk.seq)).all():
            data = session.scalar(select(IndexBlobChunk.data).where(
                IndexBlobChunk.blob_id == info["id"], IndexBlobChunk.seq == seq))
            view[offset:offset + len(data)] = data
            digest.update(data)
            offset += len(data)
            del data
    view.release()
    if offset != info["size"] or digest.hexdigest() != info["sha256"]:
        raise ValueError(f"blob {name} v{info['version']} is damaged (size or checksum mismatch)")
    return info, buffer
