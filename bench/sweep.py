"""Start-up sweep benchmark: a library of 100,000 products (files, rows, small thumbnails), a few leftovers."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from sqlalchemy import insert

from artfactory.models import Product
from artfactory.services.library import Library
from artfactory.services.sweep import sweep_library


def build(root: Path, count: int, leftovers: int) -> Library:
    library = Library.open(root)
    project = library.project_id()
    folder = library.storage.products_dir / str(project) / "2026" / "01"
    folder.mkdir(parents=True)
    small = library.storage.thumbnails_dir / "small"
    old = time.time() - 2 * 3600
    rows = []
    for i in range(count + leftovers):
        product_id = f"bench{i:011d}"
        path = folder / f"{product_id}_0123abcd.png"
        path.write_bytes(b"x")
        (small / f"{product_id}.webp").write_bytes(b"x")
        if i >= count:  # a leftover of a kill -9: a file with no row, old enough to be swept
            os.utime(path, (old, old))
            continue
        rows.append({"id": product_id, "project_id": project, "path": path.relative_to(root).as_posix(),
                     "sha256": f"{i:064d}", "media_type": "image", "mime": "image/png"})
    with library.db.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Product), rows[start:start + 10_000])
    return library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="artfactory-sweep-"))
    try:
        started = time.perf_counter()
        library = build(root, args.products, leftovers=3)
        print(f"built {args.products:,} products in {time.perf_counter() - started:.1f} s")
        for run in ("first (moves 3)", "second (nothing to do)"):
            started = time.perf_counter()
            report = sweep_library(library)
            print(f"sweep, {run}: {time.perf_counter() - started:.2f} s — {report.message}")
        library.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
