"""The viewer's parts: an image view with fit, 1:1, zoom and pan; a video player; the lineage panel."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QRectF, Qt, QUrl, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QImageReader, QKeyEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PyQt6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoFrame
from PyQt6.QtMultimediaWidgets import QVideoWidget
from PyQt6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.services.product_records import LineageLink, ProductLineage
from artfactory.views import theme
from artfactory.views.gallery.orders_panel import local_time

ZOOM_STEP = 1.25
ZOOM_RANGE = (0.02, 32.0)


class ImageView(QGraphicsView):
    """Fit to the window by default; the wheel and +/- zoom around the cursor; dragging pans."""

    zoom_changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)  # type: ignore[union-attr]
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QColor(*theme.colors().canvas))
        theme.signals().changed.connect(self._on_theme_changed)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.fitting = True

    def _on_theme_changed(self, _name: str) -> None:
        self.setBackgroundBrush(QColor(*theme.colors().canvas))

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    def load(self, path: Path) -> bool:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)  # EXIF orientation, as the thumbnails have it
        image = reader.read()
        self.set_image(image)
        return not image.isNull()

    def set_image(self, image: QImage | QPixmap) -> None:
        pixmap = image if isinstance(image, QPixmap) else QPixmap.fromImage(image)
        self._item.setPixmap(pixmap)
        self.setSceneRect(QRectF(pixmap.rect()))
        self.fit()

    def fit(self) -> None:
        self.fitting = True
        if self.has_image():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
            if self.zoom > 1.0:  # small images are shown at their size, not blown up
                self.resetTransform()
        self.zoom_changed.emit(self.zoom)

    def actual_size(self) -> None:
        self.fitting = False
        self.resetTransform()
        self.zoom_changed.emit(self.zoom)

    def set_zoom(self, factor: float) -> None:
        factor = min(max(factor, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.fitting = False
        self.scale(factor / self.zoom, factor / self.zoom)
        self.zoom_changed.emit(self.zoom)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is None:
            return
        steps = event.angleDelta().y() / 120
        if steps:
            self.set_zoom(self.zoom * ZOOM_STEP ** steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        keys = {Qt.Key.Key_Plus: self.zoom_in, Qt.Key.Key_Equal: self.zoom_in, Qt.Key.Key_Minus: self.zoom_out,
                Qt.Key.Key_0: self.fit, Qt.Key.Key_1: self.actual_size}
        action = keys.get(Qt.Key(event.key())) if event is not None else None
        if action is not None:
            action()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if self.fitting:
            self.fit()


def _clock(ms: int) -> str:
    seconds = max(0, ms) // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


class VideoView(QWidget):
    """QMediaPlayer on a QVideoWidget with play/pause, a seek slider and the time. It shows the first
    frame as a poster on load (playing muted until a frame arrives) and hands that frame out once."""

    first_frame = pyqtSignal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.video = QVideoWidget()
        self.video.setStyleSheet("background: black;")
        layout.addWidget(self.video, 1)
        controls = QHBoxLayout()
        controls.setContentsMargins(theme.SPACING, 4, theme.SPACING, 4)
        style = self.style()
        assert style is not None
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.play_button = QToolButton()
        self.play_button.setIcon(self._play_icon)
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.sliderMoved.connect(self.seek)
        self.time = QLabel("0:00 / 0:00")
        self.time.setProperty("role", "dim")
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time)
        layout.addLayout(controls)

        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        self.player.setVideoOutput(self.video)
        self.player.playbackStateChanged.connect(self._on_state)
        self.player.durationChanged.connect(self._on_duration)
        self.player.positionChanged.connect(self._on_position)
        self.player.mediaStatusChanged.connect(self._on_status)
        sink = self.video.videoSink()
        assert sink is not None
        sink.videoFrameChanged.connect(self._on_frame)
        self._priming = False
        self._want_frame = False

    @property
    def state(self) -> QMediaPlayer.PlaybackState:
        return self.player.playbackState()

    def load(self, path: Path) -> None:
        self._want_frame = True
        self._priming = False
        self.player.setSource(QUrl.fromLocalFile(str(path)))

    def unload(self) -> None:
        self._priming = self._want_frame = False
        self.player.stop()
        self.player.setSource(QUrl())
        self.audio.setMuted(False)

    def play(self) -> None:
        self._priming = False
        self.audio.setMuted(False)
        self.player.play()

    def pause(self) -> None:
        self.player.pause()

    def toggle(self) -> None:
        if self.state == QMediaPlayer.PlaybackState.PlayingState and not self._priming:
            self.pause()
        else:
            self.play()

    def seek(self, ms: int) -> None:
        self.player.setPosition(ms)

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is not None and event.key() == Qt.Key.Key_Space:
            self.toggle()
        else:
            super().keyPressEvent(event)

    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia and self._want_frame and not self._priming \
                and self.state == QMediaPlayer.PlaybackState.StoppedState:
            # No backend paints a frame before playing: play muted until the first one, then pause.
            self._priming = True
            self.audio.setMuted(True)
            self.player.play()

    def _on_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid() or not (self._priming or self._want_frame):
            return
        if self._priming:
            self._priming = False
            self.player.pause()
            self.audio.setMuted(False)
        if self._want_frame:
            self._want_frame = False
            image = frame.toImage()
            if not image.isNull():
                self.first_frame.emit(image)

    def _on_state(self, state: QMediaPlayer.PlaybackState) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState and not self._priming
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)

    def _on_duration(self, ms: int) -> None:
        self.slider.setRange(0, max(0, ms))
        self._on_position(self.player.position())

    def _on_position(self, ms: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.setValue(ms)
        self.time.setText(f"{_clock(ms)} / {_clock(self.player.duration())}")


class LineagePanel(QScrollArea):
    """Where a product came from: prompt, seed, provider, model, cost, params, size, times, order, node, parent,
    what it was made from and what it was used in (across orders), and a way into its whole ancestry."""

    link_activated = pyqtSignal(str)  # an order id
    product_activated = pyqtSignal(str)  # a product of "Made from" / "Used in"
    ancestry_requested = pyqtSignal(str)  # the shown product's id: walk back through its ancestry

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.form = QFormLayout(body)
        s = theme.SPACING
        self.form.setContentsMargins(s * 2, s * 2, s * 2, s * 2)
        self.form.setVerticalSpacing(s)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.setWidget(body)
        self.fields: dict[str, QLabel] = {}
        self.title = QLabel()
        self.title.setProperty("role", "heading")
        self.title.setWordWrap(True)
        self.form.addRow(self.title)
        for key, label in (("prompt", "Prompt"), ("seed", "Seed"), ("provider", "Provider"), ("model", "Model"),
                           ("cost", "Cost"), ("size", "Size"), ("created", "Created"), ("order", "Order"),
                           ("node", "Node"), ("parent", "Parent order"), ("made_from", "Made from"),
                           ("used_in", "Used in"), ("ancestry", "Ancestry"), ("collections", "Collections"),
                           ("file", "File")):
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            value.linkActivated.connect(self._on_link)
            name = QLabel(label)
            name.setProperty("role", "dim")
            self.form.addRow(name, value)
            self.fields[key] = value
        self.params = QTreeWidget()
        self.params.setHeaderLabels(["Param", "Value"])
        self.params.setRootIsDecorated(True)
        self.params.setMinimumHeight(120)
        params_label = QLabel("Params")
        params_label.setProperty("role", "dim")
        self.form.addRow(params_label)
        self.form.addRow(self.params)

    def value(self, key: str) -> str:
        return self.fields[key].text()

    def _on_link(self, href: str) -> None:
        # Links are "product:ID", "ancestry:ID" or a bare order id (as the order and parent rows always were).
        kind, _, target = href.partition(":")
        if kind == "product" and target:
            self.product_activated.emit(target)
        elif kind == "ancestry" and target:
            self.ancestry_requested.emit(target)
        else:
            self.link_activated.emit(href)

    def show_detail(self, detail: ProductLineage | None) -> None:
        self.params.clear()
        if detail is None:
            self.title.setText("")
            for label in self.fields.values():
                label.clear()
            return
        self.title.setText(detail.name or detail.id)
        f = self.fields
        f["prompt"].setText(_escape(detail.prompt or "—"))
        f["seed"].setText(str(detail.seed) if detail.seed is not None else "—")
        f["provider"].setText(detail.provider or "—")
        f["model"].setText(detail.model or "—")
        f["cost"].setText(cost_text(detail.cost_usd, detail.cost_source))
        size = f"{detail.width}×{detail.height}" if detail.width else detail.media_type
        size += f" · {_bytes(detail.size_bytes)} · {detail.mime}"
        duration = detail.duration or detail.metadata.get("duration")
        if duration:
            size += f" · {duration:.1f} s"
        f["size"].setText(size + _video_facts(detail.metadata))
        created = detail.created_at
        f["created"].setText(local_time(_parse(created)) if created else "—")
        order_id, status = detail.order_id, detail.order_status
        color = theme.STATUS_COLORS.get(status, theme.colors().dim) if status else theme.colors().dim
        f["order"].setText(f"<a href='{order_id}'>{order_id}</a> · <span style='color:{color}'>{status}</span>"
                           if order_id else "imported")
        node = detail.node_id
        f["node"].setText(f"{node} ({detail.node_type})" if node else (detail.node_type or "—"))
        parent = detail.parent_order_id
        f["parent"].setText(f"<a href='{parent}'>{parent}</a>" if parent else "—")
        f["made_from"].setText(_links(detail.made_from) or ("imported" if not order_id else "—"))
        f["used_in"].setText(_links(detail.used_in) or "—")
        f["ancestry"].setText(f"<a href='ancestry:{detail.id}'>Walk back to the first prompt…</a>"
                              if detail.made_from else "—")
        f["collections"].setText(", ".join(detail.collections) or "—")
        f["file"].setText(_escape(Path(detail.path).name))
        f["file"].setToolTip(detail.path)
        _fill(self.params.invisibleRootItem(), detail.params)
        self.params.expandAll()
        self.params.resizeColumnToContents(0)


LINKS_SHOWN = 12  # a product used in hundreds of runs lists the first ones and says how many more


def _links(links: tuple[LineageLink, ...]) -> str:
    """Lineage links as clickable lines: a product opens in the viewer, an order shows its products."""
    lines = []
    for link in links[:LINKS_SHOWN]:
        if link.kind == "order":
            node = _escape(link.node_id or "")
            lines.append(f"taken in by <a href='{link.order_id}'>order {link.order_id}</a> ({node})")
        elif link.missing:
            lines.append(f"{_escape(link.id or '')} (deleted)")
        else:
            where = f" · {_escape(link.node_type)}" if link.node_type else ""
            lines.append(f"<a href='product:{link.id}'>{_escape(link.name or link.id or '')}</a>{where}")
    if len(links) > LINKS_SHOWN:
        lines.append(f"and {len(links) - LINKS_SHOWN} more")
    return "<br>".join(lines)


def _fill(parent: QTreeWidgetItem | None, value: dict[str, Any]) -> None:
    for key in sorted(value, key=str):
        item = value[key]
        row = QTreeWidgetItem([str(key), "" if isinstance(item, dict) else _short(item)])
        row.setToolTip(1, str(item))
        if parent is not None:
            parent.addChild(row)
        if isinstance(item, dict):
            _fill(row, item)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def cost_text(usd: float | None, source: str | None) -> str:
    """"$0.04 (estimate)": what the product's order item cost, and whether the provider reported it."""
    if usd is None:
        return "—" if source is None else "not priced"
    amount = f"${usd:,.2f}" if usd >= 1 or usd == 0 else "$" + f"{usd:.4f}".rstrip("0").rstrip(".")
    if len(amount) < 5:  # "$0.5" reads as money only with two decimals
        amount = f"${usd:.2f}"
    said = {"provider": " (reported by the provider)", "estimate": " (estimate)"}
    return amount + said.get(source or "", "")


def _video_facts(meta: Any) -> str:
    """" · 12 fps · h264 · aac audio" for a video, " · frame 42 at 3.50 s" for a frame taken from one."""
    meta = meta if isinstance(meta, dict) else {}
    video = meta.get("video")
    if isinstance(video, dict):
        audio = video.get("audio")
        parts = [f"{video['fps']:g} fps" if isinstance(video.get("fps"), int | float) and video["fps"] else "",
                 str(video.get("codec") or ""),
                 f"{audio.get('codec')} audio" if isinstance(audio, dict) else "no audio"]
        return "".join(f" · {part}" for part in parts if part)
    at, index = meta.get("timestamp"), meta.get("frame_index")
    if isinstance(at, int | float) and isinstance(index, int):
        return f" · frame {index} at {at:.2f} s"
    return ""


def _bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.rstrip("Z"))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
