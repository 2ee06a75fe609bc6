"""Relocating a library's products folder (e.g. onto a team's shared folder): files are checked, never rewritten."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from artfactory.config import SETTINGS_FILE
from artfactory.models.entities import Product
from artfactory.services.library import Library
from artfactory.services.storage import sha256_file

Progress = Callable[[int, int], None]  # files done, files in all
SHOWN_MISSING = 5


class RelocateError(Exception):
    """The products folder cannot be relocated; the message says where and why, and nothing was switched."""


@dataclass
class RelocateReport:
    previous: str
    products_dir: str
    checked: int = 0  # product files found at the new place with their recorded size
    moved: int = 0  # renamed (same filesystem) or copied, verified and removed from the old place
    missing_before: int = 0  # files already missing at the old place (reported, not blocking)

    def as_json(self) -> dict[str, Any]:
        return {"previous": self.previous, "products_dir": self.products_dir, "checked": self.checked,
                "moved": self.moved, "missing_before": self.missing_before}


def relocate_products(library: Library, target: Path, *, move: bool = False,
                      progress: Progress | None = None) -> RelocateReport:
    """Point the library at `target` as its products folder. Without `move` the files must already be there (copied
    by the user, or a shared folder other machines fill); with `move` they are moved from the current folder first
    (a rename where possible, else copy + sha256 check + delete). Either way every product file that existed at the
    old place must be at the new one with its recorded size before the setting changes; rows are not touched."""
    progress = progress or (lambda *_: None)
    storage = library.storage
    old = storage.products_dir
    target = Path(target).expanduser().resolve()
    if target == old:
        raise RelocateError(f"the products folder already is {target}")
    if target.is_relative_to(old) or old.is_relative_to(target):
        raise RelocateError(f"{target} and the current products folder {old} are inside each other")
    if target.exists() and not target.is_dir():
        raise RelocateError(f"{target} is not a folder")
    if not move and not target.is_dir():
        raise RelocateError(f"{target} does not exist (copy the products there first, or pass --move)")
    with library.db.session() as session:
        rows = [(p, size) for p, size in session.execute(select(Product.path, Product.size_bytes))
                if p.startswith("products/")]
    present = {p for p, _ in rows if (old / p.removeprefix("products/")).is_file()}
    report = RelocateReport(str(old), str(target), missing_before=len({p for p, _ in rows}) - len(present))
    if move:
        report.moved = _move_tree(old, target, progress)
    missing = []
    for done, (path, size) in enumerate(rows, 1):
        where = target / path.removeprefix("products/")
        try:
            ok = where.is_file() and where.stat().st_size == size
        except OSError:
            ok = False
        if ok:
            report.checked += 1
        elif path in present or not old.is_dir():
            missing.append(path)
        if not move:
            progress(done, len(rows))
    if missing:
        shown = ", ".join(missing[:SHOWN_MISSING]) + (" …" if len(missing) > SHOWN_MISSING else "")
        raise RelocateError(f"{len(missing)} product file(s) are not in {target} with their recorded size "
                            f"({shown}); the products folder was not switched")
    default = storage.root / "products"
    _save_products_dir(library.home, "" if target == default else str(target))
    return report


def _move_tree(old: Path, target: Path, progress: Progress) -> int:
    files = [Path(folder) / name for folder, _dirs, names in os.walk(old) for name in names]
    for done, source in enumerate(files, 1):
        dest = target / source.relative_to(old)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            if dest.stat().st_size != source.stat().st_size or sha256_file(dest) != sha256_file(source):
                raise RelocateError(f"{dest} already exists with other bytes; nothing there was overwritten")
            source.unlink()
        else:
            try:
                os.rename(source, dest)  # the same file, not a copy: nothing is rewritten
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise RelocateError(f"could not move {source} to {dest}: {exc.strerror}") from None
                _copy_verified(source, dest)
        progress(done, len(files))
    for folder, _dirs, _names in os.walk(old, topdown=False):  # the emptied year/month folders go too
        if Path(folder) != old:
            try:
                os.rmdir(folder)
            except OSError:
                pass  # not empty: something new arrived meanwhile, and stays
    return len(files)


def _copy_verified(source: Path, dest: Path) -> None:
    part = dest.with_name(f".{dest.name}.part")
    shutil.copy2(source, part)
    if sha256_file(part) != sha256_file(source):
        part.unlink(missing_ok=True)
        raise RelocateError(f"the copy of {source} at {dest} does not match it; the source was kept")
    os.replace(part, dest)
    source.unlink()


def _save_products_dir(home: Path, value: str) -> None:
    """Only this key is written: the settings file keeps everything else as it was (environment overrides,
    such as a database URL with its password, are never written into it)."""
    path = home / SETTINGS_FILE
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            data = {}
    data["products_dir"] = value
    tmp = path.with_name(SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
