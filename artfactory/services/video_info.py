"""What a video file holds (frame rate, codec, size, duration, audio), read with PyAV, imported only when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from av.container import InputContainer


@dataclass(frozen=True)
class VideoFacts:
    """What a clip holds, for product metadata ("video": {...}) and for choosing frames."""

    fps: float
    codec: str
    width: int
    height: int
    duration: float
    frames: int | None
    audio_codec: str | None
    audio_rate: int | None

    def meta(self) -> dict[str, Any]:
        return {"fps": round(self.fps, 4), "codec": self.codec, "width": self.width, "height": self.height,
                "duration": round(self.duration, 4), "frames": self.frames,
                "audio": ({"codec": self.audio_codec, "sample_rate": self.audio_rate}
                          if self.audio_codec else None)}


def probe(container: InputContainer) -> VideoFacts:
    """Frame rate, codec, size, duration and audio of an opened clip."""
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    duration = 0.0
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / 1_000_000  # AV_TIME_BASE
    audio = container.streams.audio[0] if container.streams.audio else None
    ctx = stream.codec_context
    return VideoFacts(fps=fps if 0 < fps <= 1000 else 0.0, codec=ctx.name, width=ctx.width, height=ctx.height,
                      duration=duration, frames=stream.frames or None,
                      audio_codec=audio.codec_context.name if audio is not None else None,
                      audio_rate=audio.codec_context.sample_rate if audio is not None else None)


def video_facts(path: Path) -> VideoFacts | None:
    """The facts of a video file, or None when PyAV cannot read it (the product stands without them)."""
    import av

    try:
        with av.open(str(path)) as container:
            return probe(container) if container.streams.video else None
    except (av.FFmpegError, OSError, ValueError):
        return None
