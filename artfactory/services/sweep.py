"""Crash leftovers: stale temp files go, product files and thumbnails no row points to move to lost+found/."""

from __future__ import annotations

import logging
import os
import posixpath
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, select

from artfactory.models import Graph, Product
from artfactory.services.library import Library
from artfactory.services.storage import LibraryStorage, StorageError, sha256_file
from artfactory.services.thumbnails import THUMBNAIL_SIZES

log = logging.getLogger("artfactory.sweep")

LOST_AND_FOUND = "lost+found"
# Files are judged by age (mtime), because another process may be writing right now (a CLI run beside the
# app, a second window) and no lock covers every writer. So a file is touched only when it is too old to
# belong to a write still under way:
# - a store, delete or atomic write keeps its temp file (.stage .bytes .write .deleted, a thumbnail's .tmp)
#   for seconds: gone after an hour;
# - anything else in temp/ is a provider's download, which waits there, unchanged, until its node's whole
#   batch is done (hours for a batch of long video jobs): gone after a day. Until then it costs disk only;
# - a product file is placed (its mtime set to that moment, LibraryStorage._place) before its row is
#   committed when its node ends, seconds to minutes later: moved to lost+found/ when an hour old with no row.
SHORT_TEMP_S = 3600.0
LONG_TEMP_S = 24 * 3600.0
UNREFERENCED_S = 3600.0
SHORT_LIVED = frozenset({".stage", ".bytes", ".write", ".deleted", ".tmp"})
# Clutter an operating system leaves in folders: nobody's product, not worth a word.
IGNORED = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
# More unreferenced product files than this, and more than the database has rows: the database is most
# likely not this folder's (ARTFACTORY_DATABASE_URL elsewhere, an older backup). Nothing moves then.
SUSPICIOUS = 100
# The CLI walks the products folder at most this often (a file is moved only when an hour old anyway); the stamp's
# modification time says when the last walk was.
CLI_WALK_EVERY_S = 600.0
WALK_STAMP = ".last-sweep"
_CHUNK = 500
Query = Callable[[list[str]], Iterable[str]]


@dataclass
class SweepReport:
    """What one sweep did; `message` is the line shown once to the user (None: nothing worth saying)."""

    lost_and_found: Path
    removed_temp: int = 0
    restored: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    held_back: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def message(self) -> str | None:
        parts = []
        if self.moved:
            parts.append(f"moved {len(self.moved)} unreferenced file(s) to {self.lost_and_found}")
        if self.restored:
            parts.append(f"put back {len(self.restored)} product file(s) an interrupted delete had left in temp/")
        if self.held_back:
            parts.append(f"{self.held_back} files under products/ have no row in the database; none was moved: "
                         "check that ARTFACTORY_DATABASE_URL points at this library's database")
        if self.failed:
            parts.append(f"could not move {len(self.failed)} unreferenced file(s), e.g. {self.failed[0]}")
        return "; ".join(parts) or None


def sweep_library(library: Library, now: float | None = None, *, walk_every_s: float = 0.0) -> SweepReport:
    """Clear temp/ of stale files and move unreferenced product files and thumbnails to lost+found/.

    Never deletes or moves a file a row points to; a product file an interrupted delete parked in
    temp/ goes back where its row expects it. Safe while another process writes (see the ages above).
    The caller shows the report's message once (the CLI on stderr, the app in its status bar and log).
    `walk_every_s`: the products and thumbnails folders (100,000s of files in a big library, maybe on a NAS)
    are walked only when the last walk is older than this; temp/ is always cleared.
    """
    storage = library.storage
    now = time.time() if now is None else now
    report = SweepReport(storage.root / LOST_AND_FOUND)
    if library.read_only:  # browsing only: moving a file would be a write
        return report
    parked = _sweep_temp(storage, now, report)
    stamp = storage.root / WALK_STAMP
    if not parked and walk_every_s > 0 and _age(stamp, now) < walk_every_s:
        return report
    with library.db.engine.connect() as conn:
        rows = conn.execute(select(Product.id, Product.path)).all()
        previews = {pid for pid in conn.execute(select(Graph.preview_product_id)).scalars() if pid}
        for path in parked:
            _restore_or_remove(storage, conn, path, report)
    root = storage.root.as_posix().rstrip("/") + "/"
    referenced = {key for _, rel in rows if (key := _key(root, rel)) is not None}
    ids = {product_id for product_id, _ in rows} | previews
    products = list(_unreferenced_products(storage, referenced, now))
    thumbnails = list(_unreferenced_thumbnails(storage, ids, now, report))
    if len(products) > SUSPICIOUS and len(products) > len(rows):
        report.held_back = len(products)
    else:
        with library.db.engine.connect() as conn:
            # A row committed since the listing above keeps its file: the ages make that all but impossible,
            # this asking again leaves only the moment between the answer and the move.
            products = _still_unreferenced(products, lambda chunk: conn.execute(
                select(Product.path).where(Product.path.in_(chunk))).scalars())
            kept = set(_chunked(sorted({_thumbnail_id(rel) for rel in thumbnails}), lambda chunk: conn.execute(
                select(Product.id).where(Product.id.in_(chunk))).scalars()))
            thumbnails = [rel for rel in thumbnails if _thumbnail_id(rel) not in kept]
        for rel in products + thumbnails:
            _move_to_lost_and_found(storage, rel, report)
    try:
        stamp.touch()
        os.utime(stamp, (now, now))
    except OSError:  # a library folder that cannot take the stamp is walked every time: slower, never wrong
        pass
    log.info("swept %s: %d stale temp file(s) removed; %s", storage.root, report.removed_temp,
             report.message or "nothing unreferenced")
    return report


# -- temp/ ---------------------------------------------------------------------------------------


def _sweep_temp(storage: LibraryStorage, now: float, report: SweepReport) -> list[Path]:
    """Remove stale temp files; returns the stale parked deletes (.deleted), which need the database."""
    parked: list[Path] = []
    try:
        entries = list(os.scandir(storage.temp_dir))
    except OSError:
        return parked  # no temp/ yet: nothing left behind
    for entry in entries:
        suffix = os.path.splitext(entry.name)[1].lower()
        if not _stale_file(entry.path, now, SHORT_TEMP_S if suffix in SHORT_LIVED else LONG_TEMP_S):
            continue
        if suffix == ".deleted":
            parked.append(Path(entry.path))
        elif _unlink(entry.path):
            report.removed_temp += 1
    return parked


def _restore_or_remove(storage: LibraryStorage, conn: Connection, parked: Path, report: SweepReport) -> None:
    """A gallery delete parks files in temp/ until its transaction commits. Killed before the commit, the
    rows stayed and their files are here: put each back. Killed after it, no row wants it: remove it."""
    try:
        digest = sha256_file(parked)
    except OSError:
        return
    for rel in conn.execute(select(Product.path).where(Product.sha256 == digest)).scalars():
        try:
            target = storage.resolve_inside(rel)
        except StorageError:
            continue
        if target.exists():
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(parked, target)
        except OSError as exc:
            report.failed.append(f"{rel} ({exc.strerror or exc})")
            return
        report.restored.append(rel)
        return
    if _unlink(str(parked)):
        report.removed_temp += 1


# -- products/ and thumbnails/ -------------------------------------------------------------------


def _key(root: str, path: str) -> str | None:
    """How a stored path is compared with a file found on disk: relative to `root` ("/lib/"), POSIX,
    case-folded. Case-folding errs on the side of keeping: on a case-sensitive disk two names that differ
    only in case both count as referenced when one is. Plain strings: this runs once per product."""
    path = path.replace("\\", "/")
    if path.casefold().startswith(root.casefold()):
        path = path[len(root):]
    elif path.startswith("/") or path[1:3] == ":/":
        return None  # outside the library: no file in it to keep
    if "/." in f"/{path}" or "//" in path:
        path = posixpath.normpath(path)
    return path.casefold()


def _unreferenced_products(storage: LibraryStorage, referenced: set[str], now: float) -> Iterator[str]:
    for folder, _dirs, files in os.walk(storage.products_dir):  # does not follow links to folders
        prefix = storage.library_path(Path(folder)) + "/"  # products/… even when the folder lives elsewhere
        for name in files:
            rel = prefix + name
            if (name not in IGNORED and rel.casefold() not in referenced
                    and _stale_file(os.path.join(folder, name), now, UNREFERENCED_S)):
                yield rel


def _unreferenced_thumbnails(storage: LibraryStorage, ids: set[str], now: float,
                             report: SweepReport) -> Iterator[str]:
    for size in THUMBNAIL_SIZES:
        try:
            entries = list(os.scandir(storage.thumbnails_dir / size))
        except OSError:
            continue
        for entry in entries:
            if entry.name in IGNORED:
                continue
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):  # a thumbnail write cut short
                if _stale_file(entry.path, now, SHORT_TEMP_S) and _unlink(entry.path):
                    report.removed_temp += 1
                continue
            if entry.name.split(".", 1)[0] not in ids and _stale_file(entry.path, now, UNREFERENCED_S):
                yield f"thumbnails/{size}/{entry.name}"


def _thumbnail_id(rel: str) -> str:
    return rel.rsplit("/", 1)[-1].split(".", 1)[0]  # thumbnails/{size}/{product_id}.webp


def _still_unreferenced(candidates: list[str], query: Query) -> list[str]:
    found = {p.casefold() for p in _chunked(candidates, query)}
    return [rel for rel in candidates if rel.casefold() not in found]


def _chunked(values: list[str], query: Query) -> Iterator[str]:
    for start in range(0, len(values), _CHUNK):
        yield from query(values[start:start + _CHUNK])


def _move_to_lost_and_found(storage: LibraryStorage, rel: str, report: SweepReport) -> None:
    """Move one file to lost+found/{rel}, never over another file (a -2, -3 … suffix instead)."""
    source = storage.location(rel)
    target = report.lost_and_found / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for candidate in _free_names(target):
            try:
                # A hard link fails if the name is taken (no overwrite, even racing another sweep); then unlink.
                os.link(source, candidate)
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links (FAT, some shares): check, then rename
                if candidate.exists():
                    continue
                os.replace(source, candidate)
            else:
                os.unlink(source)
            report.moved.append(rel)
            return
    except FileNotFoundError:
        return  # moved by a sweep in another process meanwhile
    except OSError as exc:
        report.failed.append(f"{rel} ({exc.strerror or exc})")


def _free_names(target: Path) -> Iterable[Path]:
    yield target
    n = 2
    while True:
        yield target.with_name(f"{target.stem}-{n}{target.suffix}")
        n += 1


# -- helpers -------------------------------------------------------------------------------------


def _stale_file(path: str, now: float, age_s: float) -> bool:
    """A regular file (not a link, not a folder) last modified more than age_s ago."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and now - st.st_mtime > age_s


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False  # in use (Windows) or already gone: next time
    return True


def _age(path: Path, now: float) -> float:
    """Seconds since the file was last modified; infinite when it is missing or unreadable."""
    try:
        return now - path.stat().st_mtime
    except OSError:
        return float("inf")
