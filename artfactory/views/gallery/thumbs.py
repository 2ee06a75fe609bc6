"""Thumbnails for the gallery: loaded on a worker pool into an LRU of pixmaps; video posters from a first frame."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Collection
from pathlib import Path

from PyQt6.QtCore import QObject, QRunnable, QSize, Qt, QThread, QThreadPool, QTimer, QUrl, pyqtSignal, pyqtSlot
from PyQt6.QtGui import QImage, QImageReader, QPixmap
from PyQt6.QtMultimedia import QMediaPlayer, QVideoFrame, QVideoSink

from artfactory.services.thumbnails import THUMBNAIL_SIZES, ThumbnailError, ensure_thumbnails, thumbnail_path

log = logging.getLogger("artfactory.gallery")

CACHE_BYTES = 96 * 1024 * 1024  # about 900 cells at 180 px, 2x: several screens either way of the viewport
MAX_PENDING = 256  # requests beyond this are for cells long scrolled past: drop the oldest
VIDEO_GRAB_TIMEOUT_MS = 5000


def save_frame_thumbnails(home: Path, product_id: str, image: QImage) -> dict[str, Path]:
    """Write every thumbnail size of a video product from one decoded frame (atomic, like the image ones)."""
    written: dict[str, Path] = {}
    for size, edge in THUMBNAIL_SIZES.items():
        target = thumbnail_path(home, size, product_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        scaled = image
        if image.width() > edge or image.height() > edge:
            scaled = image.scaled(edge, edge, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        if not scaled.save(str(tmp), "WEBP", 82):
            tmp.unlink(missing_ok=True)
            raise OSError(f"could not write thumbnail {target}")
        os.replace(tmp, target)
        written[size] = target
    return written


class _Bridge(QObject):
    done = pyqtSignal(str, int, QImage, bool)  # product_id, generation, image, failed
    wants_video = pyqtSignal(str, str)  # product_id, source path


class _Worker(QRunnable):
    """Takes the newest request first: what the user looks at now beats what scrolled by."""

    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader
        self.bridge = loader._bridge
        self.home = loader.home

    def run(self) -> None:
        while True:
            job = self.loader._take()
            if job is None:
                return
            product_id, source, media_type, generation, size, edge = job
            image, failed = self._load(product_id, source, media_type, size, edge)
            self.bridge.done.emit(product_id, generation, image, failed)

    def _load(self, product_id: str, source: str, media_type: str, size: str, edge: int) -> tuple[QImage, bool]:
        path = thumbnail_path(self.home, size, product_id)
        if not path.is_file():
            if not Path(source).is_file():
                return QImage(), True
            try:
                ensure_thumbnails(self.home, product_id, Path(source))  # a video: its poster frame, by PyAV
            except (ThumbnailError, OSError, ValueError) as exc:
                log.debug("no thumbnail for %s: %s", product_id, exc)
                if media_type == "video":  # a codec FFmpeg-in-PyAV lacks may still play in Qt Multimedia
                    self.bridge.wants_video.emit(product_id, source)
                    return QImage(), False
                return QImage(), True
        reader = QImageReader(str(path))
        natural = reader.size()
        if natural.isValid() and (natural.width() > edge or natural.height() > edge):
            reader.setScaledSize(natural.scaled(QSize(edge, edge), Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if image.isNull():
            return QImage(), True
        # Opaque pixels go in as RGB32, which the raster engine copies instead of blending: painting a
        # screenful of cells is several times cheaper.
        opaque = not image.hasAlphaChannel()
        return image.convertToFormat(QImage.Format.Format_RGB32 if opaque
                                     else QImage.Format.Format_ARGB32_Premultiplied), False


class ThumbnailLoader(QObject):
    """Asynchronous thumbnails keyed by product id; `loaded` tells the model which cell to repaint."""

    loaded = pyqtSignal(str)

    def __init__(self, home: Path, edge: int = 176, parent: QObject | None = None,
                 cache_bytes: int = CACHE_BYTES, threads: int | None = None) -> None:
        super().__init__(parent)
        self.home = Path(home)
        self._edge = edge
        self._ratio = 1.0
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._inflight: set[str] = set()
        self._failed: set[str] = set()
        self._awaiting_poster: set[str] = set()
        self._active = 0
        self._generation = 0
        self._pool = QThreadPool(self)
        # Decoding is CPU work: leave a core to the UI thread, or scrolling stutters while thumbnails load.
        self._pool.setMaxThreadCount(threads or max(1, min(3, QThread.idealThreadCount() - 1)))
        self._bridge = _Bridge(self)
        self._bridge.done.connect(self._on_done)
        self.videos = VideoPosterGrabber(self.home, self)
        self._bridge.wants_video.connect(self._on_wants_video)
        self.videos.grabbed.connect(self._on_video_poster)

    # -- settings ------------------------------------------------------------------------------
    @property
    def edge(self) -> int:
        return self._edge

    def set_edge(self, edge: int, device_ratio: float = 1.0) -> None:
        """Thumbnails are decoded at the cell size (× the screen's pixel ratio); a new size starts over."""
        edge = max(32, round(edge * device_ratio))
        if edge == self._edge and device_ratio == self._ratio:
            return
        self._edge = edge
        self._ratio = device_ratio
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._inflight.clear()
        self._cache.clear()
        self._bytes = 0
        self._failed.clear()
        self._awaiting_poster.clear()

    def forget(self, product_id: str) -> None:
        """Drop one product's cached pixmap (its thumbnail was remade, or it was deleted)."""
        pixmap = self._cache.pop(product_id, None)
        if pixmap is not None:
            self._bytes -= _cost(pixmap)
        self._failed.discard(product_id)

    # -- lookups -------------------------------------------------------------------------------
    def pixmap(self, product_id: str) -> QPixmap | None:
        pixmap = self._cache.get(product_id)
        if pixmap is not None:
            self._cache.move_to_end(product_id)
        return pixmap

    def failed(self, product_id: str) -> bool:
        return product_id in self._failed

    def request(self, product_id: str, source: str, media_type: str) -> None:
        if product_id in self._cache or product_id in self._failed or product_id in self._awaiting_poster:
            return
        with self._lock:
            if product_id in self._inflight:
                return
            self._pending[product_id] = (source, media_type)
            self._pending.move_to_end(product_id)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
            start = self._active < self._pool.maxThreadCount()
            if start:
                self._active += 1
        if start:
            self._pool.start(_Worker(self))

    def keep_only(self, product_ids: Collection[str]) -> int:
        """Forget queued requests for every product not in `product_ids` (the cells still on screen): a
        fast scroll must not leave the workers decoding what went by. Returns how many were dropped."""
        with self._lock:
            gone = [pid for pid in self._pending if pid not in product_ids]
            for pid in gone:
                del self._pending[pid]
        return len(gone)

    def pending(self) -> int:
        """Thumbnails asked for and not there yet: queued, being decoded, or waiting for a video frame."""
        with self._lock:
            busy = len(self._pending) + len(self._inflight)
        return busy + len(self._awaiting_poster)

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def wait_idle(self, timeout_ms: int = 5000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    # -- worker side ---------------------------------------------------------------------------
    def _take(self) -> tuple[str, str, str, int, str, int] | None:
        with self._lock:
            if not self._pending:
                self._active -= 1
                return None
            product_id, (source, media_type) = self._pending.popitem(last=True)
            self._inflight.add(product_id)
            size = "small" if self._edge <= THUMBNAIL_SIZES["small"] else (
                "medium" if self._edge <= THUMBNAIL_SIZES["medium"] else "large")
            return product_id, source, media_type, self._generation, size, self._edge

    @pyqtSlot(str, int, QImage, bool)
    def _on_done(self, product_id: str, generation: int, image: QImage, failed: bool) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._inflight.discard(product_id)
        if failed:
            self._failed.add(product_id)
            self.loaded.emit(product_id)
            return
        if image.isNull():
            return  # a video waiting for its poster frame
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self._ratio)
        self._cache[product_id] = pixmap
        self._bytes += _cost(pixmap)
        while self._bytes > self._cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= _cost(old)
        self.loaded.emit(product_id)

    @pyqtSlot(str, str)
    def _on_wants_video(self, product_id: str, source: str) -> None:
        self._awaiting_poster.add(product_id)
        self.videos.request(product_id, source)

    @pyqtSlot(str, bool)
    def _on_video_poster(self, product_id: str, ok: bool) -> None:
        self._awaiting_poster.discard(product_id)
        if ok:
            self.forget(product_id)
            self.loaded.emit(product_id)  # the model asks again and now finds the file
        else:
            self._failed.add(product_id)
            self.loaded.emit(product_id)


def _cost(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4


class VideoPosterGrabber(QObject):
    """Decodes the first frame of videos without thumbnails, one at a time, and saves it as their thumbnails.

    QMediaPlayer decodes on its own threads; this object only starts it and waits for the first frame.
    Each video gets a fresh player and sink, so a late frame of one can never become another's poster."""

    grabbed = pyqtSignal(str, bool)  # product_id, ok

    def __init__(self, home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.home = Path(home)
        self._queue: OrderedDict[str, str] = OrderedDict()
        self._current: str | None = None
        self._player: QMediaPlayer | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._finish(False))

    def pending(self) -> int:
        return len(self._queue) + (self._current is not None)

    @pyqtSlot(str, str)
    def request(self, product_id: str, source: str) -> None:
        if product_id == self._current or product_id in self._queue:
            return
        self._queue[product_id] = source
        self._next()

    def _next(self) -> None:
        if self._current is not None or not self._queue:
            return
        product_id, source = self._queue.popitem(last=False)
        self._current = product_id
        player = QMediaPlayer(self)
        sink = QVideoSink(player)
        player.setVideoSink(sink)
        sink.videoFrameChanged.connect(lambda frame, pid=product_id: self._on_frame(pid, frame))
        player.errorOccurred.connect(lambda *_, pid=product_id: self._finish(False) if pid == self._current else None)
        self._player = player
        self._timer.start(VIDEO_GRAB_TIMEOUT_MS)
        player.setSource(QUrl.fromLocalFile(source))
        player.play()

    def _on_frame(self, product_id: str, frame: QVideoFrame) -> None:
        if product_id != self._current or not frame.isValid():
            return
        image = frame.toImage()
        if image.isNull():
            return
        try:
            save_frame_thumbnails(self.home, product_id, image)
        except OSError as exc:
            log.warning("video thumbnail for %s failed: %s", product_id, exc)
            self._finish(False)
            return
        self._finish(True)

    def _finish(self, ok: bool) -> None:
        product_id = self._current
        if product_id is None:
            return
        self._timer.stop()
        self._current = None
        player, self._player = self._player, None
        if player is not None:
            player.stop()
            player.deleteLater()
        self.grabbed.emit(product_id, ok)
        QTimer.singleShot(0, self._next)
