"""Import of outside files as products, and export of products with their lineage (sidecar + PNG chunks)."""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from artfactory.engine.document import name_problem
from artfactory.files import FileRefused, check_regular
from artfactory.models import Product, new_id
from artfactory.models.db import advisory_lock
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.services.storage import StorageError, sanitize_name

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRAPH_CHUNK_KEY = "artfactory.graph"
LINEAGE_CHUNK_KEY = "artfactory.lineage"
SIDECAR_SUFFIX = ".artfactory.json"


class ExportError(Exception):
    """An export that cannot be done; names the product or folder and why."""


@dataclass
class ImportResult:
    products: list[Product] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[Path, str]] = field(default_factory=list)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders walked (sorted, hidden entries skipped)."""
    out: list[Path] = []
    for path in paths:
        if _is_dir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
        else:
            out.append(path)
    return out


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a path too long or with a NUL: import_paths refuses it as a file
        return False


def import_paths(library: Library, paths: Sequence[Path], *, project_id: int, collection: str | None = None,
                 canceled: Any = None, progress: Any = None) -> ImportResult:
    """Import each file on its own: a refused file is reported and leaves nothing behind.
    A collection name with control characters is a ValueError before anything is imported."""
    problem = name_problem(collection, "a collection name") if collection else None
    if problem:
        raise ValueError(problem)
    result = ImportResult()
    files = expand_paths(paths)
    store = OrderStore(library)
    engine = library.db.engine

    def find_existing(sha256: str) -> str | None:
        with engine.connect() as conn:
            return conn.execute(select(Product.path).where(Product.project_id == project_id,
                                                           Product.sha256 == sha256).limit(1)).scalar()

    for index, path in enumerate(files):
        if canceled is not None and canceled():
            break
        if progress is not None:
            progress(index, len(files), path)
        try:
            check_regular(path)  # a missing file, device, pipe or impossible path is refused by name
        except FileRefused as exc:
            result.rejected.append((path, exc.reason))
            continue
        try:
            product_id = new_id()
            stored = library.storage.store(path, project_id=project_id, product_id=product_id,
                                           find_existing=find_existing, display_name=path.name)
        except StorageError as exc:
            result.rejected.append((path, _reason(exc, path)))
            continue
        info = stored.info
        video = _video_meta(info.media_type, library.storage.absolute(stored.relative_path))  # before any lock
        try:
            with library.db.session() as session:
                # Another machine may be importing the same file right now: one of us records it, the other
                # waits here, then finds that product and drops its own copy of the file.
                advisory_lock(session.connection(), f"import:{project_id}:{stored.sha256}")
                existing = session.scalars(select(Product).where(
                    Product.project_id == project_id, Product.sha256 == stored.sha256)).first()
                if existing is not None and not stored.deduplicated \
                        and not library.storage.absolute(existing.path).is_file():
                    existing = None  # a stale record (its file is gone): this import's file stands
                if existing is not None:
                    if not stored.deduplicated:
                        library.storage.absolute(stored.relative_path).unlink(missing_ok=True)
                    result.duplicates.append((path, existing.id))
                    result.products.append(existing)
                    continue
                product = Product(
                    id=product_id, project_id=project_id, node_type="import", name=sanitize_name(path.stem),
                    path=stored.relative_path, sha256=stored.sha256, media_type=info.media_type, mime=info.mime,
                    width=info.width, height=info.height, duration=info.duration, size_bytes=stored.size_bytes,
                    prompt=_embedded_prompt(library.storage.absolute(stored.relative_path)), params={},
                    meta={"imported_from": path.name, **video}, provider="import",
                )
                session.add(product)
        except (SQLAlchemyError, OSError) as exc:  # e.g. a full disk: the file goes too, nothing half-imported
            if not stored.deduplicated:
                library.storage.absolute(stored.relative_path).unlink(missing_ok=True)
            result.rejected.append((path, f"could not be recorded in the library: {exc}"))
            continue
        result.products.append(product)
        if collection:
            with engine.begin() as conn:
                store._add_to_collection(conn, project_id, collection, [product.id])
        if info.media_type == "image":
            try:
                from artfactory.services.thumbnails import ensure_thumbnails

                ensure_thumbnails(library.home, product.id, library.storage.absolute(stored.relative_path))
            except Exception:  # the product stands without a thumbnail; the gallery makes it later
                pass
    return result


def _video_meta(media_type: str, path: Path) -> dict[str, Any]:
    """A video's frame rate, codec, size and audio as product metadata ("video"), like the video nodes record."""
    if media_type != "video":
        return {}
    from artfactory.services.video_info import video_facts

    facts = video_facts(path)
    return {"video": facts.meta()} if facts is not None else {}


def _reason(exc: StorageError, path: Path) -> str:
    text = str(exc)
    prefix = f"{path.name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _embedded_prompt(path: Path) -> str:
    """The prompt recorded in an Art Factory PNG's lineage chunk, if it has one."""
    lineage_text = read_png_texts(path).get(LINEAGE_CHUNK_KEY)
    if not lineage_text:
        return ""
    try:
        return str(json.loads(lineage_text).get("prompt") or "")
    except ValueError:
        return ""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def itxt_chunk(keyword: str, text: str) -> bytes:
    # iTXt: keyword, null, compression flag 1 + method 0, empty language tag and translated keyword, zlib text.
    body = keyword.encode("latin-1") + b"\x00\x01\x00\x00\x00" + zlib.compress(text.encode("utf-8"))
    return _chunk(b"iTXt", body)


def add_png_texts(data: bytes, texts: dict[str, str]) -> bytes:
    """The same PNG with text chunks inserted before IEND; pixels untouched."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    iend = data.rfind(b"IEND")
    if iend < 8:
        raise ValueError("PNG without IEND")
    start = iend - 4
    extra = b"".join(itxt_chunk(k, v) for k, v in texts.items())
    return data[:start] + extra + data[start:]


def read_png_texts(path: Path) -> dict[str, str]:
    try:
        from PIL import Image

        with Image.open(path) as img:
            if img.format != "PNG":
                return {}
            return {str(k): str(v) for k, v in getattr(img, "text", {}).items()}
    except Exception:
        return {}


def _unique(folder: Path, stem: str, suffix: str) -> Path:
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{new_id()}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_products(library: Library, product_ids: Sequence[str], destination: Path) -> list[Path]:
    """Copy each product with a lineage sidecar; PNGs also carry the graph and lineage in iTXt chunks."""
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{destination}: cannot create the export folder ({exc.strerror})") from None
    written: list[Path] = []
    with library.db.session() as session:
        details: list[dict[str, Any]] = []
        for product_id in product_ids:
            try:
                details.append(lineage.product_detail(library, session, product_id))
            except lineage.NotFound:
                raise ExportError(f"no product {product_id!r}") from None
    for detail in details:
        source = Path(detail["path"])
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ExportError(f"product {detail['id']}: its file {source} cannot be read ({exc.strerror})") from None
        sidecar = {key: value for key, value in detail.items() if key != "path"}
        sidecar["format"] = "artfactory.lineage"
        sidecar["file"] = None
        stem = sanitize_name(f"{detail['name'] or detail['id']}-{detail['id'][-6:]}")
        target = _unique(destination, stem, source.suffix.lower())
        sidecar["file"] = target.name
        if data.startswith(PNG_SIGNATURE) and detail.get("graph") is not None:
            lineage_only = {k: v for k, v in sidecar.items() if k != "graph"}
            data = add_png_texts(data, {GRAPH_CHUNK_KEY: json.dumps(detail["graph"]),
                                        LINEAGE_CHUNK_KEY: json.dumps(lineage_only, default=str)})
        try:
            _write_atomic(target, data)
            side_path = target.with_name(target.stem + SIDECAR_SUFFIX)
            _write_atomic(side_path, json.dumps(sidecar, indent=2, default=str).encode("utf-8"))
        except OSError as exc:
            raise ExportError(f"{destination}: export failed ({exc.strerror})") from None
        written += [target, side_path]
    return written


EXPORT_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff"})


def is_export(path: Path) -> bool:
    """An exported product or its lineage sidecar (rather than a graph file): a graph may ride inside it."""
    return path.name.lower().endswith(SIDECAR_SUFFIX) or path.suffix.lower() in EXPORT_IMAGE_SUFFIXES


def graph_from_export(path: Path) -> dict[str, Any] | None:
    """The graph carried by an exported PNG or a lineage sidecar, for drop-to-restore."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and data.get("format") == "artfactory.lineage":
            graph = data.get("graph")
            return graph if isinstance(graph, dict) else None
        return data if isinstance(data, dict) and data.get("format") == "artfactory.graph" else None
    text = read_png_texts(path).get(GRAPH_CHUNK_KEY)
    if not text:
        return None
    try:
        graph = json.loads(text)
    except ValueError:
        return None
    return graph if isinstance(graph, dict) else None
