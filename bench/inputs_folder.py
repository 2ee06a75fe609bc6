"""Folder input benchmark: 500 photos through input.folder → resize → collection, cold and cached, per image."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.services import folder_inputs
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession

DATA = Path(__file__).resolve().parent / ".data" / "inputs_folder"


def photo(args: tuple[int, int, int]) -> Path:
    """A photo-like JPEG (sky gradient, hills, sun, grain), made once and kept in bench/.data."""
    index, width, height = args
    path = DATA / f"{width}x{height}" / f"IMG_{index:04d}.jpg"
    if path.exists():
        return path
    rng = random.Random(index)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top = [rng.randrange(60, 200) for _ in range(3)]
    low = [rng.randrange(150, 256) for _ in range(3)]
    for y in range(height):
        t = min(1.0, y / (height * 0.6))
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, low, strict=True)))
    step = max(8, width // 24)
    hills = [(0, height)] + [(x, int(height * 0.55) + rng.randint(-height // 8, height // 8))
                             for x in range(0, width + step, step)] + [(width, height)]
    draw.polygon(hills, fill=tuple(rng.randrange(20, 140) for _ in range(3)))
    r = height // 12
    cx, cy = rng.randrange(r, width - r), rng.randrange(r, height // 3)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 240, 200))
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    grain = Image.effect_noise((width, height), 12).convert("RGB")
    image = Image.blend(image, grain, 0.06)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    image.save(tmp, "JPEG", quality=88)
    tmp.replace(path)
    return path


def make_folder(count: int, width: int, height: int) -> Path:
    with ProcessPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        paths = list(pool.map(photo, [(i, width, height) for i in range(1, count + 1)], chunksize=16))
    return paths[0].parent


def graph(folder: Path, count: int) -> GraphDocument:
    return GraphDocument(name="folder bench", nodes=[
        NodeSpec("photos", "input.folder", {"folder": str(folder), "pattern": "*.jpg", "limit": count}),
        NodeSpec("small", "transform.resize", {"width": 512, "height": 512, "mode": "fit"}),
        NodeSpec("keep", "collection.add", {"collection": "Bench"}),
    ], edges=[EdgeSpec("photos", "image", "small", "image"), EdgeSpec("small", "image", "keep", "media")])


def run_once(session: HeadlessSession, doc: GraphDocument, project_id: int,
             ) -> tuple[float, float, float, dict[str, int]]:
    """(plan s, run s until the order finished, thumbnails s after it, node statuses). Thumbnails are made off
    the order's path once each node has reported; they are timed apart, and awaited before the next run."""
    finished_at: list[float] = []

    def on_finished(*_args: object) -> None:
        finished_at.append(time.perf_counter())

    session.signals.order_finished.connect(on_finished)
    started = time.perf_counter()
    plan = session.plan(doc)
    planned = time.perf_counter()
    order_id, status = session.run(plan, project_id=project_id)
    session.executor.wait_idle(-1)
    idle = time.perf_counter()
    session.signals.order_finished.disconnect(on_finished)
    assert status == "succeeded", status
    items = session.executor.store.items(order_id)
    counts: dict[str, int] = {}
    for item in items.values():
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return planned - started, finished_at[0] - planned, idle - finished_at[0], counts


def forget_memo_in_memory() -> None:
    """As a new process (a CLI run) starts: the memo is read again from the library's file."""
    folder_inputs._MEMOS.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--size", default="1600x1067", help="photo size WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    started = time.perf_counter()
    folder = make_folder(args.photos, width, height)
    total_mb = sum(p.stat().st_size for p in folder.glob("*.jpg")) / 1e6
    print(f"{args.photos} photos {width}×{height} ({total_mb:.0f} MB) ready in {time.perf_counter() - started:.1f} s")
    root = Path(tempfile.mkdtemp(prefix="artfactory-folder-bench-"))
    try:
        library = Library.open(root)
        session = HeadlessSession(library)
        project_id = library.project_id()
        doc = graph(folder, args.photos)
        rows = []
        rows.append(("cold (imports, resizes, files)", *run_once(session, doc, project_id)))
        rows.append(("cached, same process", *run_once(session, doc, project_id)))
        forget_memo_in_memory()
        rows.append(("cached, new process (memo file)", *run_once(session, doc, project_id)))
        forget_memo_in_memory()
        (root / folder_inputs.HASH_MEMO_FILE).unlink()
        rows.append(("cached, no memo (hash every file)", *run_once(session, doc, project_id)))
        os.utime(next(folder.glob("*.jpg")))  # one photo touched: a new mtime, the same bytes
        rows.append(("one file touched (same bytes)", *run_once(session, doc, project_id)))
        library.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = args.photos
    print(f"\n{'run':36} {'plan s':>7} {'run s':>7} {'ms/image':>9} {'thumbs s':>9}  nodes")
    for name, plan_s, run_s, thumbs_s, counts in rows:
        nodes = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{name:36} {plan_s:7.2f} {run_s:7.2f} {1000 * (plan_s + run_s) / n:9.2f} {thumbs_s:9.2f}  {nodes}")
    print("ms/image = (plan + run) / photos; thumbnails (3 sizes per product) are made after each node reports.")


if __name__ == "__main__":
    main()
