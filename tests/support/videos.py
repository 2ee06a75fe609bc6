"""Tiny real videos for tests, made with PyAV: numbered coloured frames, optionally a sine tone."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from PIL import Image


def frame_colour(index: int) -> tuple[int, int, int]:
    """Frame `index`'s flat colour: far enough apart that H.264 keeps them apart after a round trip."""
    return ((index * 37) % 256, (index * 91 + 60) % 256, 255 - (index * 53) % 256)


def make_video(path: Path, *, seconds: float = 1.0, fps: int = 12, size: tuple[int, int] = (64, 64),
               audio: bool = False, tone_hz: float = 440.0, sample_rate: int = 22050,
               container: str = "mp4", keyframe_every: int | None = None) -> Path:
    """An H.264 video (MP4 unless `container` says e.g. "matroska") whose frame i is a flat frame_colour(i); with
    `audio`, a mono sine tone as long as the video."""
    import av

    frames = round(seconds * fps)
    with av.open(str(path), mode="w", format=container) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "10", "preset": "ultrafast", **({"g": str(keyframe_every)} if keyframe_every else {})}
        sound = out.add_stream("aac", rate=sample_rate) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for index in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, frame_colour(index)))
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            chunk = 1024
            total = round(seconds * sample_rate)
            for start in range(0, total, chunk):
                count = min(chunk, total - start)
                step = 2 * math.pi * tone_hz / sample_rate
                data = b"".join(struct.pack("<h", int(9000 * math.sin(step * (start + i)))) for i in range(count))
                samples = av.AudioFrame(format="s16", layout="mono", samples=count)
                samples.planes[0].update(data)
                samples.sample_rate = sample_rate
                samples.pts = start
                out.mux(sound.encode(samples))
            out.mux(sound.encode(None))
    return path
