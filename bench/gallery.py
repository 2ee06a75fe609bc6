"""Gallery benchmark: 100,000 products — first paint, every filter query, a full scroll (longest stall), RSS growth."""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false;qt.multimedia.*=false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from PIL import Image, ImageDraw
from sqlalchemy import insert

from artfactory.models import Order, OrderItem
from artfactory.services.gallery import Cursor, Gallery, GalleryQuery, SortKey
from artfactory.services.library import Library
from artfactory.services.thumbnails import THUMBNAIL_SAVE_OPTIONS, THUMBNAIL_SIZES, thumbnail_path

DATA = Path(__file__).resolve().parent / ".data"
WORDS = (
    "fox", "whale", "forest", "neon", "city", "sunset", "portrait", "castle", "dragon", "ocean", "desert",
    "robot", "garden", "winter", "cat", "owl", "mountain", "river", "galaxy", "temple", "lantern", "harbor",
    "meadow", "glacier",
)
STYLES = ("poster", "watercolor", "photo", "cinematic", "sketch", "isometric")
NODE_TYPES = [("provider.local", "local", "procedural/illustration", 50), ("transform.resize", None, None, 25),
              ("provider.replicate", "replicate", "black-forest-labs/flux-schnell", 10),
              ("provider.fal", "fal", "fal-ai/flux/dev", 8), ("transform.grid", None, None, 4),
              ("import", "import", None, 3)]
TARGETS = {"first paint": 500.0, "query": 50.0, "stall": 100.0, "rss": 300.0}
PRODUCTS_PER_ORDER = 200


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- the synthetic library ------------------------------------------------------------------------------
def populate(library: Library, count: int, seed: int = 1) -> dict[str, Any]:
    """`count` products over two projects in a few executemany calls, with orders, order items and
    collections. The FTS insert trigger is dropped for the load and the index rebuilt once at the end
    (the same SQL, read back from the schema), which is 2× faster than indexing row by row."""
    rng = random.Random(seed)
    main, client = library.project_id("Default"), library.project_id("Client work")
    start = datetime(2024, 1, 1)
    n_orders = max(1, count // PRODUCTS_PER_ORDER)
    orders = [(f"{i:016x}", client if i % 10 == 0 else main, start + timedelta(minutes=i * 1000))
              for i in range(n_orders)]
    snapshot = json.dumps({"format": "artfactory.graph", "version": 1, "name": "synthetic", "nodes": [], "edges": []})
    stamp = "%Y-%m-%d %H:%M:%S.%f"
    order_rows = [{"id": oid, "project_id": pid, "name": f"Run {i}", "snapshot": snapshot,
                   "snapshot_sha256": "0" * 64, "status": "succeeded", "created_at": created}
                  for i, (oid, pid, created) in enumerate(orders)]
    item_rows = [{"id": f"{oid}{n}", "order_id": oid, "position": n, "node_id": node, "node_type": kind,
                  "params": {}, "request_key": "0" * 64, "cache_key": f"{oid}{n:048x}", "status": status}
                 for oid, _, _ in orders
                 for n, (node, kind, status) in enumerate((("prompt", "prompt.lines", "cached"),
                                                           ("gen", "provider.local", "executed"),
                                                           ("small", "transform.resize", "executed")))]
    weights = [w for *_, w in NODE_TYPES]
    rows, by_project = [], {main: [], client: []}
    for i in range(count):
        oid, pid, ocreated = orders[min(n_orders - 1, i * n_orders // count)]
        node_type, provider, model, _ = rng.choices(NODE_TYPES, weights)[0]
        created = ocreated + timedelta(seconds=(i % PRODUCTS_PER_ORDER) * 3)
        product_id = f"{int(created.timestamp() * 1000):012x}{i:08x}"
        media = "video" if rng.random() < 0.05 else "image"
        prompt = f"{' '.join(rng.sample(WORDS, 3))}, {rng.choice(STYLES)}"
        rows.append((product_id, pid, oid, "gen", node_type, 0, f"{node_type.split('.')[-1]}-{i}",
                     f"products/{pid}/{created:%Y/%m}/{product_id}.png", f"{i:064x}", media,
                     "image/png" if media == "image" else "video/mp4", 512, 512, rng.randrange(20_000, 4_000_000),
                     prompt, provider, model, rng.randrange(1 << 30), "{}", "{}",
                     rng.choice((0, 0, 0, 0, 0, 1, 2, 3, 4, 5)), rng.random() < 0.03, created.strftime(stamp)))
        by_project[pid].append(product_id)
    postgres = library.db.engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"  # the driver's own placeholders: executemany without SQLAlchemy's overhead
    if postgres:  # psycopg takes the datetimes and booleans themselves
        rows = [(*r[:21], bool(r[21]), datetime.strptime(r[22], stamp)) for r in rows]
    with library.db.engine.begin() as conn:
        if postgres:  # 0008's live-change trigger would queue one notification per row of the load
            conn.exec_driver_sql("ALTER TABLE products DISABLE TRIGGER products_notify")
        else:
            trigger = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'products_fts_ai'").scalar()
            conn.exec_driver_sql("DROP TRIGGER products_fts_ai")
        conn.execute(insert(Order), order_rows)  # Core inserts fill the models' defaults
        conn.execute(insert(OrderItem), item_rows)
        conn.exec_driver_sql(
            "INSERT INTO products (id, project_id, order_id, node_id, node_type, batch_index, name, path, sha256, "
            "media_type, mime, width, height, size_bytes, prompt, provider, model, seed, params, metadata, rating, "
            f"favourite, created_at) VALUES ({', '.join([mark] * 23)})", rows)
        if postgres:
            conn.exec_driver_sql("ALTER TABLE products ENABLE TRIGGER products_notify")
        else:
            conn.exec_driver_sql(trigger)
            conn.exec_driver_sql("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")
        collections = {}
        when = start if postgres else start.strftime(stamp)
        for name, members in (("Foxes", by_project[main][::5]), ("Picks", by_project[main][::300])):
            conn.exec_driver_sql(f"INSERT INTO collections (project_id, name, created_at) VALUES ({mark}, {mark}, "
                                 f"{mark})", (main, name, when))
            cid = conn.exec_driver_sql(f"SELECT id FROM collections WHERE name = {mark}", (name,)).scalar()
            conn.exec_driver_sql(f"INSERT INTO collection_products (collection_id, product_id, added_at) "
                                 f"VALUES ({mark}, {mark}, {mark})", [(cid, m, when) for m in members])
            collections[name] = cid
    if postgres:
        vacuum(library)
    return {"main": main, "client": client, "collections": collections, "orders": orders,
            "ids": [r[0] for r in rows]}


def vacuum(library: Library) -> None:
    """What autovacuum does shortly after a bulk load: the planner's statistics, and the visibility map that lets
    counts and facets read only the indexes. Repeated until the pages show as all-visible (a snapshot still open
    elsewhere right after the load keeps the first pass from marking them)."""
    library.db.engine.dispose()
    for _ in range(5):
        with library.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            pages, visible = conn.exec_driver_sql(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'products'").one()
        if visible >= pages * 0.99:
            return
        time.sleep(1.0)
    print(f"warning: only {visible} of {pages} product pages are all-visible after VACUUM")


def thumbnails(library: Library, ids: list[str], distinct: int = 48) -> None:
    """Real WebP thumbnails for every product: `distinct` drawn images, hard-linked under each id, so the
    scroll decodes real files all the way down without writing 100,000 of them. They are the size the app
    writes for the 512 px products of this library (the gallery's default cells read the medium size)."""
    folder = thumbnail_path(library.home, "medium", "x").parent
    folder.mkdir(parents=True, exist_ok=True)
    edge = THUMBNAIL_SIZES["medium"]
    sources = []
    for n in range(distinct):
        rng = random.Random(n)
        image = Image.new("RGB", (edge, edge), tuple(rng.randrange(40, 200) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y, r = rng.randrange(edge), rng.randrange(edge), rng.randrange(edge // 24, edge // 3)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
        path = folder.parent / f"bench-{n}.webp"
        image.save(path, "WEBP", **THUMBNAIL_SAVE_OPTIONS)
        sources.append(path)
    for i, product_id in enumerate(ids):
        os.link(sources[i % distinct], thumbnail_path(library.home, "medium", product_id))


# -- measurements -------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median milliseconds over `repeat` runs (the first one included: no warm-up is hidden)."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def query_cases(info: dict[str, Any]) -> dict[str, GalleryQuery]:
    main = info["main"]
    base = GalleryQuery(project_id=main)
    order_id = next(oid for oid, pid, _ in info["orders"][len(info["orders"]) // 2:] if pid == main)
    return {
        "all products, newest first": GalleryQuery(),
        "project": base,
        "project, name A–Z": base.with_(sort=SortKey.NAME, descending=False),
        "project, largest first": base.with_(sort=SortKey.SIZE),
        "small project": GalleryQuery(project_id=info["client"]),
        "collection (20 % of rows)": base.with_(collection_id=info["collections"]["Foxes"]),
        "collection (300 rows)": base.with_(collection_id=info["collections"]["Picks"]),
        "order": base.with_(order_id=order_id),
        "node type": base.with_(node_type="transform.grid"),
        "provider / model": base.with_(provider="fal", model="fal-ai/flux/dev"),
        "media: video": base.with_(media_type="video"),
        "date range (1 month)": base.with_(created_from=datetime(2024, 6, 1), created_to=datetime(2024, 7, 1)),
        "rating ≥ 4": base.with_(min_rating=4),
        "favourites": base.with_(favourites_only=True),
        "search, common word": base.with_(search="fox"),
        "search, rare words": base.with_(search="fox whale owl"),
        "search + video + favourite": base.with_(search="neon", media_type="video", favourites_only=True),
        "collection + search + node + rating + date": base.with_(
            collection_id=info["collections"]["Foxes"], search="fox", node_type="provider.local", min_rating=3,
            created_from=datetime(2024, 3, 1)),
        "collection, name order": base.with_(collection_id=info["collections"]["Foxes"], sort=SortKey.NAME),
        "rating 5, smallest first": base.with_(min_rating=5, sort=SortKey.SIZE, descending=False),
    }


def measure_queries(gallery: Gallery, info: dict[str, Any]) -> list[tuple[str, int, float, float, float]]:
    out = []
    for name, query in query_cases(info).items():
        count_ms, total = timed(lambda q=query: gallery.count(q))
        first_ms, first = timed(lambda q=query: gallery.page(q, limit=240))
        # A page deep down the list, as scrolling reaches it (keyset: from the row before it).
        deep = gallery.page(query, offset=max(0, total - 300), limit=1)
        cursor = Cursor.after(deep[0], query.sort) if deep else None
        deep_ms, _ = timed(lambda q=query, c=cursor: gallery.page(q, limit=240, after=c))
        out.append((name, total, count_ms, first_ms, deep_ms))
        assert len(first) == min(240, total)
    return out


def measure_facets(gallery: Gallery, info: dict[str, Any]) -> list[tuple[str, float]]:
    main = info["main"]
    cases = {"collections with counts": lambda: gallery.collections(main),
             "providers / models": lambda: gallery.providers(main), "node types": lambda: gallery.node_types(main),
             "order history (300)": lambda: gallery.order_history(main)}
    return [(name, timed(fn)[0]) for name, fn in cases.items()]


def measure_ui(library: Library, scroll_px_per_tick: int) -> dict[str, float]:
    from PyQt6.QtCore import QElapsedTimer, QEvent, QObject, QTimer
    from PyQt6.QtWidgets import QApplication

    from artfactory.views import theme
    from artfactory.views.gallery.gallery_widget import GalleryWidget

    app = QApplication.instance() or QApplication(sys.argv[:1])
    theme.apply(app)  # type: ignore[arg-type]
    rss_before = rss_mb()
    painted: list[float] = []

    class PaintProbe(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint and widget.model.rowCount() and not painted:
                painted.append(time.perf_counter())
            return False

    t0 = time.perf_counter()
    widget = GalleryWidget(library)
    probe = PaintProbe()
    widget.view.viewport().installEventFilter(probe)
    widget.resize(1920, 1080)
    widget.show()
    while not painted and time.perf_counter() - t0 < 10:
        app.processEvents()
    first_paint = (painted[0] - t0) * 1000 if painted else float("inf")
    app.processEvents()
    # Until the thumbnails of the first screen are on it.
    view, model = widget.view, widget.model

    def visible_rows() -> list[int]:
        rows = []
        for row in range(model.rowCount()):
            rect = view.visualRect(model.index(row))
            if rect.intersects(view.viewport().rect()):
                rows.append(row)
            elif rows:
                break
        return rows

    while time.perf_counter() - t0 < 15:
        app.processEvents()
        if all(widget.loader.pixmap(model.row_at(r).id) is not None for r in visible_rows()):
            break
    first_screen = (time.perf_counter() - t0) * 1000

    # Scroll from the top to the very bottom, fetching pages as the end of what is loaded comes into
    # view. A 5 ms timer measures how long the event loop is kept from running: the longest gap is the stall.
    # The garbage of start-up (imports, building the widget) is collected first: its one full collection
    # (~100 ms here for ~140,000 objects) comes once per process, whenever the collector's thresholds say,
    # and is not the gallery's. Full collections during the scroll are counted and timed in the table.
    gc.collect()
    full_collections: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                full_collections.append((time.perf_counter() - gc_started[0]) * 1000)

    gc.callbacks.append(on_gc)
    bar = view.verticalScrollBar()
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick_probe() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    probe_timer = QTimer()
    probe_timer.setInterval(5)
    probe_timer.timeout.connect(tick_probe)
    done = [False]

    def step() -> None:
        if bar.value() >= bar.maximum() and not model.canFetchMore():
            done[0] = True
            return
        bar.setValue(min(bar.maximum(), bar.value() + scroll_px_per_tick))

    scroller = QTimer()
    scroller.setInterval(16)  # a frame at 60 Hz
    scroller.timeout.connect(step)
    scroll_start = time.perf_counter()
    probe_timer.start()
    scroller.start()
    while not done[0] and time.perf_counter() - scroll_start < 150:
        app.processEvents()
    scroller.stop()
    probe_timer.stop()
    gc.callbacks.remove(on_gc)
    scroll_s = time.perf_counter() - scroll_start
    for _ in range(50):
        app.processEvents()
    rss_after = rss_mb()
    result = {"first paint": first_paint, "first screen of thumbnails": first_screen, "scroll seconds": scroll_s,
              "rows loaded": model.rowCount(), "longest stall": max(gaps) - 5 if gaps else 0.0,
              "p99 stall": statistics.quantiles(gaps, n=100)[98] - 5 if len(gaps) > 100 else 0.0,
              "rss growth": rss_after - rss_before, "thumbnail cache MB": widget.loader.cached_bytes / 2**20,
              "reached bottom": float(done[0]), "page queries": model.fetched_pages,
              "full collections": len(full_collections), "longest full collection": max(full_collections, default=0.0)}
    widget.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--scroll-px", type=int, default=2400, help="pixels scrolled per 16 ms frame")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic library (printed path)")
    parser.add_argument("--database", default="sqlite", metavar="sqlite|postgresql|URL",
                        help="the library database: SQLite (default), a throwaway PostgreSQL server started like the "
                        "tests' (postgresql), or the URL of an empty database")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="gallery-", dir=DATA))
    os.environ["ARTFACTORY_HOME"] = str(home)
    failures = []
    server = None
    if args.database == "postgresql":
        from tests.support.postgres import PostgresServer

        server = PostgresServer.start()
        os.environ["ARTFACTORY_DATABASE_URL"] = server.fresh_database()
    elif args.database != "sqlite":
        os.environ["ARTFACTORY_DATABASE_URL"] = args.database
    try:
        library = Library.open(home)
        print(f"\nDatabase: {library.db.engine.dialect.name} {library.db.engine.dialect.server_version_info or ''}")
        t0 = time.perf_counter()
        info = populate(library, args.products)
        rows_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        thumbnails(library, info["ids"])
        thumbs_s = time.perf_counter() - t0
        print(f"\nSynthetic library: {args.products:,} products, {len(info['orders']):,} orders — rows "
              f"{rows_s:.1f} s, thumbnails {thumbs_s:.1f} s ({home})\n")
        gallery = Gallery(library)
        print(f"{'query':46} {'rows':>8} {'count ms':>9} {'page ms':>8} {'deep ms':>8}  ≤ 50 ms")
        for name, total, count_ms, first_ms, deep_ms in measure_queries(gallery, info):
            worst = max(count_ms, first_ms, deep_ms)
            ok = worst <= TARGETS["query"]
            failures += [] if ok else [name]
            print(f"{name:46} {total:8,} {count_ms:9.1f} {first_ms:8.1f} {deep_ms:8.1f}  {'ok' if ok else 'SLOW'}")
        for name, ms in measure_facets(gallery, info):
            ok = ms <= TARGETS["query"]
            failures += [] if ok else [name]
            print(f"{'facet: ' + name:46} {'':8} {ms:9.1f} {'':8} {'':8}  {'ok' if ok else 'SLOW'}")
        ui = measure_ui(library, args.scroll_px)
        print(f"\n{'UI (offscreen, 1920×1080)':46} {'value':>12}  target")
        rows = [("time to first paint", f"{ui['first paint']:.0f} ms", "≤ 500 ms", ui["first paint"] <= 500),
                ("first screen of thumbnails shown", f"{ui['first screen of thumbnails']:.0f} ms", "", True),
                (f"scroll top to bottom ({ui['rows loaded']:,.0f} rows)", f"{ui['scroll seconds']:.1f} s", "",
                 bool(ui["reached bottom"]) and ui["rows loaded"] == args.products),
                ("longest UI stall while scrolling", f"{ui['longest stall']:.0f} ms", "≤ 100 ms",
                 ui["longest stall"] <= TARGETS["stall"]),
                ("99th percentile stall", f"{ui['p99 stall']:.0f} ms", "", True),
                ("page queries during the scroll", f"{ui['page queries']:,.0f}", "", True),
                ("full GC passes during the scroll (longest)",
                 f"{ui['full collections']:.0f} ({ui['longest full collection']:.0f} ms)", "", True),
                ("RSS growth (widget + full scroll)", f"{ui['rss growth']:.0f} MB", "≤ 300 MB",
                 ui["rss growth"] <= TARGETS["rss"]),
                ("thumbnail LRU at the end", f"{ui['thumbnail cache MB']:.0f} MB", "", True)]
        for name, value, target, ok in rows:
            failures += [] if ok else [name]
            print(f"{name:46} {value:>12}  {target:9} {'ok' if ok else 'FAIL'}")
        library.close()
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
        if server is not None:
            server.stop()
    print(f"\n{'all targets met' if not failures else 'missed: ' + ', '.join(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
