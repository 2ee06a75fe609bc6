"""Render the README screenshots offscreen: the main window after a run, the template browser, preferences,
the gallery, the product viewer with lineage, compare, the mask painter, and the light theme."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
EXAMPLE = "photo-finish.json"


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false;qt.qpa.*=false")
    work = Path(tempfile.mkdtemp(prefix="artfactory-shots-"))
    os.environ["ARTFACTORY_UI_SETTINGS"] = str(work / "ui.ini")  # never the user's own window layout
    for name in ("REPLICATE_API_TOKEN", "FAL_KEY"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    fakes = _fake_providers()  # the money shots run paid nodes against the test suite's fake provider servers
    _memory_keychain()  # the preferences shot must not read or write the user's real keychain

    from artfactory.views.canvas import compat

    compat.apply()
    from PyQt6.QtWidgets import QApplication

    from artfactory.app import create_main_window
    from artfactory.config import shipped_graphs_dir
    from artfactory.services.library import Library
    from artfactory.views import theme

    app = QApplication(sys.argv)
    app.setApplicationName("Art Factory")
    theme.apply(app)
    library = Library.open(work / "library")
    window = create_main_window(library)
    window.resize(1920, 1080)
    window.show()
    settle(app)

    tab = window.files.open_file(shipped_graphs_dir() / EXAMPLE)
    assert tab is not None, f"{EXAMPLE} did not open"
    window.run_graph()
    wait(app, lambda: not tab.controller.run_state.running, 120, "the run")
    makers = [n.id for n in tab.controller.doc.nodes if (r := tab.controller.run_state.get(n.id)) and r.products]
    wait(app, lambda: all(tab.view.node_item(n)._thumbs and not tab.view.node_item(n)._thumbs[0].pixmap().isNull()
                          for n in makers), 30, "thumbnails")
    tab.view.zoom_to_fit()
    tab.view.select(["grade"] if tab.controller.doc.node("grade") else makers[:1])
    settle(app)
    OUT.mkdir(parents=True, exist_ok=True)
    save(window.grab(), "main-window.png")

    first = window.app.first_product(tab.controller)
    window.app.save_template(tab.controller, "Studio photo finish", "Grade, sharpen, watermark and export a "
                             "web JPEG, with a black-and-white branch.", first[0] if first else None)
    browser = window.files.show_templates()
    browser.resize(1060, 640)
    browser.list.setCurrentRow(0)
    settle(app)
    save(browser.grab(), "template-browser.png")
    browser.close()

    preferences = window.show_preferences()
    preferences.resize(640, 560)
    settle(app)
    save(preferences.grab(), "preferences.png")
    preferences.close()

    # Fill the library with a few more runs, then show the gallery, the viewer and compare.
    for name in ("fox-posters.json", "wildcard-sweep.json"):
        other = window.files.open_file(shipped_graphs_dir() / name)
        assert other is not None, f"{name} did not open"
        window.run_graph()
        wait(app, lambda other=other: not other.controller.run_state.running, 180, name)
    window.app.runs.executor.wait_idle(30_000)
    window.resize(1280, 800)  # a laptop screen, the Runs dock open beside the gallery
    gallery = window.show_gallery()
    gallery.refresh()
    settle(app, 1.0)
    from artfactory.services.gallery import GalleryQuery

    posters = [r.id for r in gallery.gallery.page(GalleryQuery(node_type="provider.local"), limit=8)]
    gallery.reveal(posters[0])
    gallery.loader.wait_idle(10_000)
    settle(app, 0.8)
    save(window.grab(), "gallery.png")
    window.resize(1920, 1080)

    viewer = window.open_product(posters[0])
    assert viewer is not None
    viewer.resize(1280, 760)
    settle(app, 0.6)
    save(viewer.grab(), "viewer.png")
    viewer.close()

    # Compare a poster with its tweaked re-run: the params and the graph snapshot differ in one place.
    fox = next(t for t in window.graph_tabs() if t.controller.doc.name == "Fox posters")
    fox_order = fox.controller.run_state.order_id
    assert fox_order, "the fox posters did not run"
    rerun = window.rerun_order(fox_order)
    assert rerun is not None
    rerun.controller.set_param("prompt", "text", "a red fox under a violet night sky, poster")
    window.run_graph()
    wait(app, lambda: not rerun.controller.run_state.running, 120, "the re-run")
    pair = [window.app.first_product(t.controller) for t in (fox, rerun)]
    gallery = window.show_gallery()
    gallery.refresh()
    ids = [p[0] for p in pair if p]
    for product_id in ids:
        gallery.reveal(product_id)  # loads the pages they are on
    gallery.select_products(ids)
    compare = gallery.compare_selected()
    assert compare is not None, "compare did not open"
    compare.resize(1280, 920)
    settle(app, 0.6)
    save(compare.grab(), "compare.png")
    compare.close()

    ancestry_shot(app, window)
    database_shot(app, window)
    node_menu_shot(app, window)
    subgraph_shot(app, window)
    queue_shot(app, window)
    money_shots(app, window)
    sweep_shot(app, window)
    modes_shot(app, window)
    video_shot(app, window)
    mask_shot(app, window)

    # The light theme, switched live as Preferences does, on the first graph after its run.
    window.app.update_settings(theme="light")
    window.resize(1480, 900)
    window.tabs.setCurrentWidget(tab)
    settle(app)
    tab.view.graph.clear_selection()  # frame the whole graph, not the node selected earlier
    tab.view.zoom_to_fit()  # after the resize has landed, or it frames the old size
    settle(app, 0.6)
    save(window.grab(), "light-theme.png")

    window.app.runs.executor.wait_idle(10_000)
    window.autosave.clean_exit()
    library.close()
    for fake in fakes:
        fake.stop()
    return 0


SHOOTOUT = {
    "format": "artfactory.graph", "version": 1, "name": "Lighthouse shoot-out",
    "nodes": [
        {"id": "prompt", "type": "prompt.lines",
         "params": {"text": "a lighthouse at dusk, oil painting\na lighthouse in a storm, ink\n"
                            "a lighthouse at dawn, watercolour"}},
        {"id": "schnell", "type": "provider.replicate",
         "params": {"model": "black-forest-labs/flux-schnell", "input": {"num_outputs": 1}, "seed": 11}},
        {"id": "dev", "type": "provider.fal",
         "params": {"endpoint": "fal-ai/flux/dev", "input": {"image_size": "landscape_4_3"}, "seed": 11}},
        {"id": "sheet", "type": "transform.grid", "params": {"columns": 3, "labels": True}},
        {"id": "local", "type": "provider.local", "params": {"seed": 11, "style": "poster"}},
    ],
    "edges": [
        {"from": ["prompt", "text"], "to": ["schnell", "prompt"]},
        {"from": ["prompt", "text"], "to": ["dev", "prompt"]},
        {"from": ["prompt", "text"], "to": ["local", "prompt"]},
        {"from": ["schnell", "media"], "to": ["sheet", "image"]},
    ],
}


def ancestry_shot(app: object, window: object) -> None:
    """A contact sheet's family tree: back through the watermarks and the drawings to the first prompt."""
    from artfactory.services.gallery import GalleryQuery

    gallery = window.show_gallery()
    sheets = [r.id for r in gallery.gallery.page(GalleryQuery(node_type="transform.grid"), limit=1)]
    assert sheets, "no contact sheet to walk back from"
    viewer = window.open_product(sheets[0])
    assert viewer is not None
    dialog = viewer.viewer.show_ancestry(sheets[0])
    assert dialog is not None, "the ancestry view did not open"
    dialog.resize(900, 560)
    settle(app, 0.6)
    save(dialog.grab(), "ancestry.png")
    dialog.close()
    viewer.close()


def database_shot(app: object, window: object) -> None:
    """Preferences → General: the library's database (SQLite here), with PostgreSQL one choice away."""
    preferences = window.show_preferences()
    preferences.resize(640, 540)
    preferences.tabs.setCurrentIndex(1)
    settle(app)
    save(preferences.grab(), "preferences-database.png")
    preferences.close()


def money_shots(app: object, window: object) -> None:
    """A paid graph with its cost badges and the Plan view before Run; after it ran, the Spend panel."""
    from artfactory.engine import document as graph_document

    doc = graph_document.from_json(SHOOTOUT, "shoot-out")
    tab = window.add_graph(window.app.new_graph(doc))  # type: ignore[attr-defined]
    window.resize(1480, 900)  # type: ignore[attr-defined]
    settle(app, 0.6)
    tab.view.auto_layout()
    tab.view.zoom_to_fit()
    wait(app, lambda: tab.view.node_item("schnell").cost_badge.isVisible(), 20, "the cost badges")
    plan = window.show_plan()  # type: ignore[attr-defined]
    assert plan is not None, "the plan view did not open"
    plan.resize(760, 420)
    settle(app, 1.0)
    save(plan.grab(), "plan.png")
    plan.close()
    settle(app, 0.4)
    save(window.grab(), "cost-badges.png")  # type: ignore[attr-defined]
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 120, "the paid run")
    spend = window.show_spend()  # type: ignore[attr-defined]
    settle(app, 1.5)
    spend.refresh()
    settle(app, 1.5)
    save(window.grab(), "spend.png")  # type: ignore[attr-defined]


def modes_shot(app: object, window: object) -> None:
    """The photo finish with its sharpen step bypassed and its black-and-white branch muted, after a Run."""
    from artfactory.config import shipped_graphs_dir
    from artfactory.engine import document as graph_document

    doc = graph_document.load(shipped_graphs_dir() / EXAMPLE)
    doc.name = "Photo finish (bypass and mute)"
    tab = window.add_graph(window.app.new_graph(doc))  # type: ignore[attr-defined]
    window.resize(1480, 900)  # type: ignore[attr-defined]
    settle(app, 0.4)
    tab.controller.toggle_mode(["crisp"], "bypass")
    tab.controller.toggle_mode(["mono"], "mute")
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 120, "the run with modes")
    tab.view.graph.clear_selection()
    tab.view.zoom_to_fit()
    settle(app, 0.8)
    save(window.grab(), "bypass-mute.png")  # type: ignore[attr-defined]


def video_shot(app: object, window: object) -> None:
    """The shipped "Video → stylise frames → video" after a Run: a clip, its frames graded, assembled again."""
    from artfactory.config import shipped_graphs_dir

    tab = window.files.open_file(shipped_graphs_dir() / "video-stylise-frames.json")  # type: ignore[attr-defined]
    assert tab is not None, "video-stylise-frames.json did not open"
    window.resize(1480, 900)  # type: ignore[attr-defined]
    settle(app, 0.4)
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 180, "the video pipeline")
    makers = [n.id for n in tab.controller.doc.nodes if (r := tab.controller.run_state.get(n.id)) and r.products]
    wait(app, lambda: all(tab.view.node_item(n)._thumbs and not tab.view.node_item(n)._thumbs[0].pixmap().isNull()
                          for n in makers), 30, "the video pipeline's thumbnails")
    tab.view.graph.clear_selection()  # frame the whole pipeline (two rows, as the template places them)
    tab.view.zoom_to_fit()
    settle(app, 0.4)
    tab.view.select(["stylised"])
    settle(app, 0.8)
    save(window.grab(), "video-pipeline.png")  # type: ignore[attr-defined]


def mask_shot(app: object, window: object) -> None:
    """The mask painter over the landscape of the shipped "Inpaint with a mask": the right-hand peaks brushed in,
    a notch erased, the edge feathered."""
    from PyQt6.QtCore import QPointF

    from artfactory.config import shipped_graphs_dir
    from artfactory.views.dialogs.mask_canvas import Tool
    from artfactory.views.dialogs.mask_painter import MaskPainterDialog

    tab = window.files.open_file(shipped_graphs_dir() / "inpaint-with-a-mask.json")  # type: ignore[attr-defined]
    assert tab is not None, "inpaint-with-a-mask.json did not open"
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 120, "the inpaint template")
    state = tab.controller.run_state.get("photo")
    assert state is not None and state.products, "the inpaint template made no photo"
    dialog = MaskPainterDialog(window.app.library, state.products[0][0], window)  # type: ignore[attr-defined]
    dialog.resize(1280, 860)
    dialog.show()
    settle(app, 0.4)
    canvas = dialog.canvas
    dialog.set_brush_size(56)
    # Brush the right-hand peaks in a few sweeps, then take a notch back with the eraser, as a hand would.
    for y in (330, 375, 415):
        points = [QPointF(x, y - 40 * (x - 500) / 260 + 10 * ((x // 60) % 2)) for x in range(500, 760, 20)]
        canvas.begin_stroke(points[0], canvas.tool)
        for point in points[1:]:
            canvas.continue_stroke(point)
        canvas.end_stroke()
    dialog.set_tool(Tool.ERASER)
    dialog.set_brush_size(36)
    canvas.begin_stroke(QPointF(600, 420), canvas.tool)
    canvas.continue_stroke(QPointF(640, 380))
    canvas.end_stroke()
    dialog.feather_spin.setValue(6)
    dialog.set_tool(Tool.BRUSH)
    settle(app, 0.6)
    save(dialog.grab(), "mask-painter.png")
    dialog.reject()


def sweep_shot(app: object, window: object) -> None:
    """The shipped "Seed × style sweep": its labelled rows × columns sheet, as the app made it."""
    import shutil

    from artfactory.config import shipped_graphs_dir

    tab = window.files.open_file(shipped_graphs_dir() / "seed-style-sweep.json")  # type: ignore[attr-defined]
    assert tab is not None, "seed-style-sweep.json did not open"
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 120, "the sweep")
    state = tab.controller.run_state.get("sheet")
    assert state is not None and state.products, "the sweep made no sheet"
    detail = window.app.product_detail(state.products[0][0])  # type: ignore[attr-defined]
    shutil.copyfile(detail.path, OUT / "xy-sheet.png")
    print("wrote docs/screenshots/xy-sheet.png")


def _fake_providers() -> list[object]:
    """The fake Replicate and fal servers of the test suite (127.0.0.1), as the app's base URLs."""
    from tests.fixtures.fake_fal import FakeFal
    from tests.fixtures.fake_replicate import FakeReplicate

    replicate, fal = FakeReplicate().start(), FakeFal().start()
    replicate.run_s = fal.run_s = 1.5  # progress bars move, and Replicate reports a predict_time
    replicate.models["black-forest-labs/flux-schnell"] = "b" * 64  # an official model, priced per output
    os.environ["ARTFACTORY_REPLICATE_BASE_URL"] = replicate.url
    os.environ["ARTFACTORY_FAL_QUEUE_URL"] = fal.url
    os.environ["ARTFACTORY_FAL_REST_URL"] = fal.url
    os.environ["ARTFACTORY_FAL_API_URL"] = fal.url
    return [replicate, fal]


def queue_shot(app: object, window: object) -> None:
    """The Runs panel with the queue: a graph running, Run pressed again (queued), two orders the CLI queued."""
    from artfactory.engine import document as graph_document
    from artfactory.services.queue import Queue

    library = window.app.library  # type: ignore[attr-defined]
    queue = Queue(library)
    queue.set_paused(True)  # the shot shows orders waiting; resumed (and worked through) below
    doc = graph_document.from_json({
        "format": "artfactory.graph", "version": 1, "name": "Harbour at night",
        "nodes": [{"id": "prompt", "type": "prompt.text", "params": {"text": "a harbour at night, lanterns"}},
                  {"id": "gen", "type": "provider.local",
                   "params": {"seed": 3, "width": 512, "height": 512, "latency_ms": 6000}}],
        "edges": [{"from": ["prompt", "text"], "to": ["gen", "prompt"]}]}, "harbour")
    tab = window.add_graph(window.app.new_graph(doc))  # type: ignore[attr-defined]
    window.run_graph()  # type: ignore[attr-defined]
    window.run_graph()  # type: ignore[attr-defined]  # a graph that is running: queued
    for name, seed in (("Fox posters", 21), ("Variations contact sheet", 5)):
        other = graph_document.from_json({**doc.to_json(), "name": name}, name)
        other.node("gen").params.update(seed=seed, latency_ms=0)  # type: ignore[union-attr]
        queue.add(queue.plan(other), project_id=library.project_id())  # as `artfactory queue add` does
    section = window.runs_panel.queue_section  # type: ignore[attr-defined]
    wait(app, lambda: section.list.count() == 3, 10, "the queue")
    section.list.setCurrentRow(1)
    window.resize(1480, 900)  # type: ignore[attr-defined]
    window.docks["runs"].raise_()  # type: ignore[attr-defined]
    settle(app, 1.5)
    save(window.docks["runs"].grab(), "queue.png")  # type: ignore[attr-defined]
    queue.set_paused(False)
    window.app.runs.cancel_graph(tab.controller)  # type: ignore[attr-defined]
    wait(app, lambda: section.list.count() == 0, 60, "the queue to be worked through")


def node_menu_shot(app: object, window: object) -> None:
    """A small graph after a run, with a node's right-click menu open (the menu is a window of its own, so
    it is grabbed apart and painted onto the window where it popped up)."""
    from PyQt6.QtGui import QPainter

    from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
    from artfactory.views.canvas import node_menu

    doc = GraphDocument(name="Fox sketch", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox in fresh snow, poster"}),
        NodeSpec("gen", "provider.local", {"seed": 7, "width": 512, "height": 512}),
        NodeSpec("small", "transform.resize", {"width": 256, "height": 256, "mode": "fit"}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "small", "image")],
        meta={"canvas": {"prompt": {"pos": [0, 40]}, "gen": {"pos": [300, 0]}, "small": {"pos": [600, 0]}}})
    window.resize(1360, 800)  # type: ignore[attr-defined]
    tab = window.add_graph(window.app.new_graph(doc))  # type: ignore[attr-defined]
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 60, "the small graph")
    wait(app, lambda: all(tab.view.node_item(n)._thumbs and not tab.view.node_item(n)._thumbs[0].pixmap().isNull()
                          for n in ("gen", "small")), 30, "thumbnails")
    view = tab.view
    view.zoom_to_fit()
    settle(app)
    item = view.node_item("gen")
    rect = item.sceneBoundingRect()
    at = view.viewer.mapFromScene(rect.left() + 60, rect.bottom() - 24)  # the menu drops below the graph
    view.select(["gen"])  # a right-click selects the node, then opens its menu
    menu = node_menu.build(view, "gen")
    menu.popup(view.viewer.viewport().mapToGlobal(at))
    settle(app)
    shot = window.grab()  # type: ignore[attr-defined]
    painter = QPainter(shot)
    painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())  # type: ignore[attr-defined]
    painter.end()
    menu.close()
    save(shot, "node-menu.png")


def _memory_keychain() -> None:
    import keyring

    from tests.fixtures import fake_fal, fake_replicate
    from tests.support.keychain import MemoryKeyring

    backend = MemoryKeyring()
    backend.store[("artfactory", "replicate")] = fake_replicate.TOKEN
    backend.store[("artfactory", "fal")] = fake_fal.KEY
    keyring.set_keyring(backend)


def subgraph_shot(app: object, window: object) -> None:
    """A graph with three nodes grouped into one subgraph node after a run (its thumbnail rolled up), beside
    the subgraph opened by a double-click, with its breadcrumb back."""
    from PyQt6.QtGui import QPainter, QPixmap

    from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
    from artfactory.views.canvas import subgraph_nav

    doc = GraphDocument(name="Poster pipeline", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a lighthouse in a storm, poster"}),
        NodeSpec("gen", "provider.local", {"seed": 11, "width": 512, "height": 512}),
        NodeSpec("crop", "transform.resize", {"width": 384, "height": 384, "mode": "fill"}),
        NodeSpec("small", "transform.resize", {"width": 256, "height": 256, "mode": "fit"}),
        NodeSpec("sheet", "transform.grid", {}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt"), EdgeSpec("gen", "image", "crop", "image"),
              EdgeSpec("crop", "image", "small", "image"), EdgeSpec("small", "image", "sheet", "image")],
        meta={"canvas": {"prompt": {"pos": [0, 40]}, "gen": {"pos": [300, 0]}, "crop": {"pos": [600, 0]},
                         "small": {"pos": [900, 0]}, "sheet": {"pos": [1200, 0]}}})
    window.resize(1360, 800)  # type: ignore[attr-defined]
    tab = window.add_graph(window.app.new_graph(doc))  # type: ignore[attr-defined]
    tab.view.select(["gen", "crop", "small"])
    subgraph_nav.group_selection(tab.view, window, name="Upscale and frame")  # type: ignore[arg-type]
    window.run_graph()  # type: ignore[attr-defined]
    wait(app, lambda: not tab.controller.run_state.running, 60, "the subgraph graph")
    tab.view.select([])
    tab.view.zoom_to_fit()
    settle(app, 1.0)
    outer = window.grab()  # type: ignore[attr-defined]
    inner = window.open_subgraph(tab, "upscale_and_frame")  # type: ignore[attr-defined]
    inner.view.zoom_to_fit()
    settle(app, 1.0)
    inside = window.grab()  # type: ignore[attr-defined]
    shot = QPixmap(outer.width(), outer.height() * 2)
    painter = QPainter(shot)
    painter.drawPixmap(0, 0, outer)
    painter.drawPixmap(0, outer.height(), inside)
    painter.end()
    save(shot, "subgraph.png")


def settle(app: object, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)


def wait(app: object, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)
    settle(app)


def save(pixmap: object, name: str) -> None:
    path = OUT / name
    if not pixmap.save(str(path)):  # type: ignore[attr-defined]
        raise SystemExit(f"screenshots: could not write {path}")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
