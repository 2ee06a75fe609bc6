"""The mask painter driven by mouse and keyboard: strokes, eraser, undo/redo, invert, fill, clear, save, lineage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtWidgets import QApplication
from sqlalchemy import select

from artfactory.models import Product
from artfactory.models.entities import ProductSource
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.services.masks import MaskError, save_mask
from artfactory.services.transfer import import_paths
from artfactory.views import theme
from artfactory.views.dialogs.mask_painter import MaskPainterDialog
from artfactory.views.gallery.gallery_widget import GalleryWidget
from artfactory.views.viewer.viewer import ProductViewer
from tests.support.qt import while_popup_open

W, H = 201, 100  # an odd width: mask rows are padded in memory, never in the saved file


@pytest.fixture
def photo(library: Library, tmp_path: Path) -> str:
    image = Image.new("RGB", (W, H), (60, 110, 170))
    ImageDraw.Draw(image).ellipse((120, 20, 180, 80), fill=(240, 200, 40))
    path = tmp_path / "beach.png"
    image.save(path)
    result = import_paths(library, [path], project_id=library.project_id())
    return result.products[0].id


@pytest.fixture(autouse=True)
def _viewers() -> Iterator[list[ProductViewer]]:
    """The viewers the dialogs were opened from: qtbot holds widgets weakly, and a collected viewer would take its
    child dialog with it."""
    _VIEWERS.clear()
    yield _VIEWERS
    _VIEWERS.clear()


_VIEWERS: list[ProductViewer] = []


def _open(qtbot: Any, library: Library, product_id: str) -> MaskPainterDialog:
    theme.apply(QApplication.instance())  # type: ignore[arg-type]
    viewer = ProductViewer(library)
    qtbot.addWidget(viewer)
    _VIEWERS.append(viewer)
    viewer.show_product(product_id)
    assert viewer.paint_mask_action.isEnabled()
    dialog = viewer.paint_mask()
    assert isinstance(dialog, MaskPainterDialog)
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)  # shortcuts reach it
    return dialog


def _at(dialog: MaskPainterDialog, x: float, y: float) -> QPoint:
    """The widget point over image pixel (x, y)."""
    return dialog.canvas.to_widget(QPointF(x, y)).toPoint()


def _stroke(qtbot: Any, dialog: MaskPainterDialog, points: list[tuple[float, float]],
            button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    canvas = dialog.canvas
    qtbot.mousePress(canvas, button, pos=_at(dialog, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, _at(dialog, *point))
    qtbot.mouseRelease(canvas, button, pos=_at(dialog, *points[-1]))


def _mask(dialog: MaskPainterDialog) -> Image.Image:
    return dialog.canvas.mask_image()


def test_paint_erase_undo_redo_invert_fill_clear_and_save(qtbot: Any, library: Library, photo: str) -> None:
    dialog = _open(qtbot, library, photo)
    assert not dialog.save_button.isEnabled()  # nothing painted yet
    dialog.set_brush_size(12)
    _stroke(qtbot, dialog, [(20, 50), (50, 50), (80, 50)])
    mask = _mask(dialog)
    assert mask.getpixel((50, 50)) == 255 and mask.getpixel((50, 10)) == 0 and mask.getpixel((150, 50)) == 0
    assert dialog.save_button.isEnabled() and dialog.undo_action.isEnabled()
    painted = mask.tobytes()

    _stroke(qtbot, dialog, [(50, 30), (50, 70)], Qt.MouseButton.RightButton)  # right-drag erases
    assert _mask(dialog).getpixel((50, 50)) == 0 and _mask(dialog).getpixel((25, 50)) == 255

    qtbot.keyClick(dialog.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _mask(dialog).tobytes() == painted  # the erase is undone
    qtbot.keyClick(dialog.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _mask(dialog).getbbox() is None  # and the stroke
    assert not dialog.undo_action.isEnabled() and not dialog.save_button.isEnabled()
    qtbot.keyClick(dialog.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert _mask(dialog).tobytes() == painted  # redone

    qtbot.keyClick(dialog.canvas, Qt.Key.Key_I)  # invert
    assert _mask(dialog).getpixel((50, 50)) == 0 and _mask(dialog).getpixel((150, 50)) == 255
    qtbot.keyClick(dialog.canvas, Qt.Key.Key_F)  # fill
    assert _mask(dialog).getextrema() == (255, 255)
    qtbot.keyClick(dialog.canvas, Qt.Key.Key_Delete)  # clear
    assert _mask(dialog).getbbox() is None
    dialog.undo_action.trigger()
    dialog.undo_action.trigger()  # back to the inverted stroke
    inverted = _mask(dialog)
    assert inverted.getpixel((50, 50)) == 0 and inverted.getpixel((150, 50)) == 255

    qtbot.keyClick(dialog.canvas, Qt.Key.Key_E)  # the eraser by default now: take the sun's disc out
    assert dialog.eraser_action.isChecked()
    dialog.set_brush_size(30)
    _stroke(qtbot, dialog, [(150, 50)])
    expected = _mask(dialog)
    assert expected.getpixel((150, 50)) == 0 and expected.getpixel((190, 10)) == 255

    saved: list[str] = []
    dialog.saved.connect(saved.append)
    qtbot.keyClick(dialog.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert len(saved) == 1 and not dialog.isVisible()
    with library.db.session() as session:
        product = session.get(Product, saved[0])
        assert product is not None
        assert product.meta == {"mask": True, "source_product_ids": [photo]}
        assert (product.media_type, product.mime, product.width, product.height) == ("image", "image/png", W, H)
        rows = session.scalars(select(ProductSource).where(ProductSource.product_id == saved[0])).all()
        assert [(r.source_id, r.position) for r in rows] == [(photo, 0)]
        detail = lineage.product_lineage(library, session, saved[0])
        assert [link.id for link in detail.made_from] == [photo]
        assert saved[0] in [link.id for link in lineage.product_lineage(library, session, photo).used_in]
        path = library.storage.absolute(product.path)
    with Image.open(path) as stored:
        assert stored.mode == "L" and stored.size == (W, H)
        assert stored.tobytes() == expected.tobytes()  # feather 0: exactly what was painted


def test_feather_softens_the_saved_edge(qtbot: Any, library: Library, photo: str) -> None:
    dialog = _open(qtbot, library, photo)
    qtbot.keyClick(dialog.canvas, Qt.Key.Key_F)
    dialog.canvas.set_show_mask(True)
    dialog.set_brush_size(200)
    _stroke(qtbot, dialog, [(200, 0), (200, 100)], Qt.MouseButton.RightButton)  # erase the right half
    dialog.feather_spin.setValue(6)
    assert dialog.canvas._soft is not None  # the preview shows the soft edge
    dialog.save()
    assert dialog.saved_id is not None
    with library.db.session() as session:
        product = session.get(Product, dialog.saved_id)
        assert product is not None
        path = library.storage.absolute(product.path)
    with Image.open(path) as stored:
        edge = stored.getpixel((100, 50))
        assert isinstance(edge, int) and 20 < edge < 235
        assert stored.getpixel((10, 50)) == 255 and stored.getpixel((190, 50)) == 0


def test_zoom_to_fit_and_brush_size_keys(qtbot: Any, library: Library, photo: str) -> None:
    dialog = _open(qtbot, library, photo)
    canvas = dialog.canvas
    fit = canvas.scale
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.scale == pytest.approx(fit * 1.25)
    qtbot.keyClick(canvas, Qt.Key.Key_0)
    assert canvas.scale == pytest.approx(fit)
    size = canvas.brush_size
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size > size and dialog.size_spin.value() == canvas.brush_size
    # Painting lands on the same image pixel at any zoom.
    canvas.zoom_by(3.0, QPointF(canvas.width() / 3, canvas.height() / 2))
    dialog.set_brush_size(4)
    _stroke(qtbot, dialog, [(40, 40)])
    assert _mask(dialog).getpixel((40, 40)) == 255 and _mask(dialog).getpixel((60, 40)) == 0


def test_gallery_context_menu_paints_a_mask_and_shows_it(qtbot: Any, library: Library, photo: str) -> None:
    theme.apply(QApplication.instance())  # type: ignore[arg-type]
    gallery = GalleryWidget(library)
    qtbot.addWidget(gallery)
    gallery.resize(1200, 700)
    gallery.show()
    qtbot.waitExposed(gallery)
    assert gallery.reveal(photo)
    titles: list[tuple[str, bool]] = []

    def look(menu: Any) -> None:
        titles.extend((a.text(), a.isEnabled()) for a in menu.actions() if a.text())

    row = gallery.model.row_of(photo)
    assert row is not None
    position = gallery.view.visualRect(gallery.model.index(row)).center()
    assert while_popup_open(qtbot, lambda: gallery._context_menu(position), look)
    assert ("Paint Mask…", True) in titles
    dialog = gallery.paint_mask(photo)
    assert isinstance(dialog, MaskPainterDialog)
    dialog.fill_action.trigger()
    dialog.save()
    assert dialog.saved_id is not None
    qtbot.waitUntil(lambda: gallery.model.row_of(dialog.saved_id or "") is not None, timeout=3000)
    assert gallery.message_label.text() == "Mask saved as a product made from this image"


def test_a_video_or_missing_product_cannot_be_painted_over(library: Library, photo: str) -> None:
    with pytest.raises(MaskError, match="no product nope"):
        save_mask(library, "nope", Image.new("L", (4, 4), 255))
    with library.db.session() as session:
        source = session.get(Product, photo)
        assert source is not None
        session.add(Product(id="clip1", project_id=source.project_id, path=source.path, sha256=source.sha256,
                            media_type="video", mime="video/mp4", params={}, meta={}))
    with pytest.raises(MaskError, match="product clip1 is a video; a mask is painted over an image"):
        save_mask(library, "clip1", Image.new("L", (4, 4), 255))


def test_paint_mask_on_a_mask_edits_it_over_its_image(qtbot: Any, library: Library, photo: str) -> None:
    first = Image.new("L", (W, H), 0)
    ImageDraw.Draw(first).rectangle((10, 10, 60, 60), fill=255)
    mask_id = save_mask(library, photo, first)
    dialog = _open(qtbot, library, mask_id)
    assert dialog.source.id == photo  # painted over the image the mask was made from
    assert _mask(dialog).tobytes() == first.tobytes() and not dialog.undo_action.isEnabled()
    dialog.set_brush_size(10)
    _stroke(qtbot, dialog, [(150, 50), (180, 50)])
    dialog.save()
    assert dialog.saved_id not in (None, mask_id)
    with library.db.session() as session:
        edited = session.get(Product, dialog.saved_id)
        assert edited is not None and edited.meta["source_product_ids"] == [photo]
        path = library.storage.absolute(edited.path)
    with Image.open(path) as stored:
        assert stored.getpixel((30, 30)) == 255 and stored.getpixel((165, 50)) == 255  # the old and the new
        assert stored.getpixel((100, 90)) == 0


def test_every_painter_shortcut_is_in_the_shortcuts_help(qtbot: Any, library: Library, photo: str) -> None:
    from artfactory.views.dialogs.mask_painter import KEYS

    dialog = _open(qtbot, library, photo)
    listed = " ".join(keys for _name, keys in KEYS).replace("−", "-")
    for action in dialog.actions():
        for key in action.shortcuts():
            text = key.toString(key.SequenceFormat.PortableText)
            assert text in listed or {"Delete": "Del", "Backspace": "Del", "=": "+"}.get(text, "?") in listed, text


def test_a_mask_saved_from_the_product_window_shows_in_the_gallery(qtbot: Any, window: Any, photo: str) -> None:
    gallery = window.show_gallery()
    gallery.refresh()
    product_window = window.open_product(photo)
    assert product_window is not None
    dialog = product_window.viewer.paint_mask()
    assert isinstance(dialog, MaskPainterDialog)
    dialog.fill_action.trigger()
    dialog.save()
    assert dialog.saved_id is not None
    saved_id = dialog.saved_id
    qtbot.waitUntil(lambda: gallery.model.row_of(saved_id) is not None, timeout=3000)
    assert gallery.message_label.text() == "Mask saved as a product made from this image"
