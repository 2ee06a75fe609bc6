"""Reading and writing video with PyAV for the video nodes; av is imported only when a node runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import Media, NodeError
from artfactory.lazy import lazy_module

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from PIL import Image
else:  # Pillow is imported when an image is first touched: a fully cached run and `artfactory nodes` never touch one.
    Image = lazy_module("PIL.Image")

MAX_FPS = 240.0


def video_media(value: Any, node: str, port: str = "video") -> Media:
    """The input as a stored video product, or a NodeError that says what arrived instead."""
    if not isinstance(value, Media):
        raise NodeError(f"{node} expects a video on {port!r} but received {type(value).__name__}", "bad_input")
    if value.media_type != "video":
        raise NodeError(f"{node} expects a video on {port!r} but received an {value.media_type} "
                        f"(product {value.product_id})", "media_type")
    return value


def open_video(path: Path, node: str, what: str) -> InputContainer:
    """An opened container with a video stream; `what` names the file in errors ("product X", a path)."""
    import av

    try:
        container = av.open(str(path), mode="r")
    except FileNotFoundError:
        raise NodeError(f"{node}: the file of {what} is missing ({path})", "missing_file") from None
    except PermissionError:
        raise NodeError(f"{node}: {what} cannot be read (permission denied)", "unreadable") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        said = "is damaged or incomplete (an interrupted copy or recording?)" if _looks_like_video(path) else \
            "is not a readable video"
        raise NodeError(f"{node}: {what} {said} ({_reason(exc)})", "bad_video") from None
    if not container.streams.video:
        container.close()
        raise NodeError(f"{node}: {what} has no video track", "bad_video")
    container.streams.video[0].thread_type = "AUTO"  # frame threads: several times faster, the same frames
    return container


def _looks_like_video(path: Path) -> bool:
    """Whether the first bytes are those of an MP4/MOV or Matroska/WebM file (so a failure means damage)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head[:4] == b"\x1a\x45\xdf\xa3"


def _reason(exc: BaseException) -> str:
    # FFmpeg's own words without the file name it appends (the message names the file already).
    text = (getattr(exc, "strerror", None) or str(exc)).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:150] + "…"


SEEK_AFTER_S = 2.0  # a range starting later than this is reached by seeking, not by decoding everything before it


def decoded_frames(container: InputContainer, node: str, what: str, from_seconds: float = 0.0,
                   ) -> Iterator[tuple[int, float, VideoFrame]]:
    """(frame index, seconds from the clip's start, frame) of every frame in order; damaged data is a NodeError.

    From the start, indices are counted. With `from_seconds` past SEEK_AFTER_S the decoder seeks to the keyframe
    before it and indices are time × frame rate (the same numbers for constant-rate video)."""
    import av

    stream = container.streams.video[0]
    base = stream.time_base
    origin = float(stream.start_time * base) if stream.start_time and base else 0.0
    fps = float(stream.average_rate) if stream.average_rate else 0.0
    counted = not (from_seconds > SEEK_AFTER_S and base and fps)
    index = 0
    try:
        if not counted and base:
            container.seek(int((origin + from_seconds - 0.5 / fps) / base), stream=stream, backward=True)
        for frame in container.decode(stream):
            seconds = max(0.0, frame.time - origin if frame.time is not None else (index / fps if fps else 0.0))
            yield (index if counted else round(seconds * fps)), seconds, frame
            index += 1
    except av.FFmpegError as exc:
        where = f"frame {index + 1}" if counted else f"{from_seconds:g} s + {index} frames"
        raise NodeError(f"{node}: {what} is damaged at {where} ({_reason(exc)})", "bad_video") from None


def frame_at(container: InputContainer, seconds: float, node: str, what: str,
             ) -> tuple[int, float, VideoFrame] | None:
    """The frame shown at `seconds` (the first whose time is within half a frame of it or later), reached by
    seeking to the keyframe before it, so a still from an hour in costs a few frames of decoding, not the hour.
    Its index is its time × the frame rate (exact for constant-rate video). None past the last frame."""
    import av

    stream = container.streams.video[0]
    base = stream.time_base
    origin = float(stream.start_time * base) if stream.start_time and base else 0.0
    fps = float(stream.average_rate) if stream.average_rate else 0.0
    half = 0.5 / fps if fps else 0.0
    try:
        if base:
            container.seek(max(0, int((origin + max(0.0, seconds - half)) / base)), stream=stream, backward=True)
        for frame in container.decode(stream):
            at = max(0.0, (frame.time or 0.0) - origin)
            if at + half >= seconds:
                return round(at * fps) if fps else 0, at, frame
    except av.FFmpegError as exc:
        raise NodeError(f"{node}: {what} is damaged near {seconds:g} s ({_reason(exc)})", "bad_video") from None
    return None


def frame_image(frame: VideoFrame) -> Image.Image:
    """A decoded frame as an upright RGB image (phone clips carry a rotation to apply on display)."""
    image = frame.to_image()
    rotation = getattr(frame, "rotation", 0) or 0
    if rotation % 360:
        # FFmpeg's display matrix angle is counter-clockwise, as Pillow's rotate is.
        image = image.rotate(rotation, expand=True)
    return image


def rate_of(fps: float) -> Fraction:
    """A frame rate as the exact fraction encoders want (29.97 → 2997/100, 12 → 12)."""
    return Fraction(fps).limit_denominator(1001)


def even(n: int) -> int:
    """H.264 in yuv420p needs even sides: one pixel less at most."""
    return max(2, n - n % 2)


class Mp4Writer:
    """H.264 yuv420p (+ AAC) into an MP4 whose header sits at the front (it plays while loading)."""

    def __init__(self, path: Path, *, width: int, height: int, fps: float, crf: int,
                 audio_rate: int | None = None, audio_layout: str | None = None) -> None:
        import av

        self.rate = rate_of(fps)
        self.width, self.height = even(width), even(height)
        self.output = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.output.add_stream("libx264", rate=self.rate)
        self.video.width, self.video.height = self.width, self.height
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": str(crf), "preset": "medium"}
        self.video.codec_context.time_base = 1 / self.rate
        self.audio = None
        self._samples = 0
        if audio_rate:
            self.audio = self.output.add_stream("aac", rate=audio_rate)
            if audio_layout in ("mono", "stereo"):
                self.audio.layout = audio_layout
        self.frames = 0

    def add_image(self, image: Image.Image) -> None:
        import av

        self.add_frame(av.VideoFrame.from_image(image))

    def add_frame(self, frame: VideoFrame) -> None:
        if (frame.width, frame.height) != (self.width, self.height) or frame.format.name != "yuv420p":
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        frame.pts = self.frames
        frame.time_base = 1 / self.rate
        self.output.mux(self.video.encode(frame))
        self.frames += 1

    def add_audio(self, frame: AudioFrame) -> None:
        assert self.audio is not None
        frame.pts = self._samples  # re-stamped from zero: the clip starts where the video does
        frame.time_base = Fraction(1, frame.sample_rate)
        self._samples += frame.samples
        self.output.mux(self.audio.encode(frame))

    @property
    def seconds(self) -> float:
        return self.frames / float(self.rate)

    def close(self) -> None:
        """Flush the encoders and write the file's index."""
        self.output.mux(self.video.encode(None))
        if self.audio is not None:
            self.output.mux(self.audio.encode(None))
        self.output.close()

    def abort(self) -> None:
        _close_quietly(self.output)


def copy_audio(source: InputContainer, writer: Mp4Writer, *, start: float, end: float, node: str,
               what: str) -> None:
    """Re-encode the audio between `start` and `end` seconds of `source` into the writer (as AAC)."""
    import av

    stream = source.streams.audio[0]
    origin = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    if start > SEEK_AFTER_S and stream.time_base:  # straight to the cut (audio frames before it are skipped)
        source.seek(int((origin + start - 1.0) / stream.time_base), stream=stream, backward=True)
    else:
        source.seek(0)
    try:
        for frame in source.decode(stream):
            at = (frame.time or 0.0) - origin
            if at + frame.samples / frame.sample_rate <= start:
                continue
            if at >= end:
                break
            writer.add_audio(frame)
    except av.FFmpegError as exc:
        raise NodeError(f"{node}: the audio of {what} is damaged ({_reason(exc)})", "bad_video") from None


def evenly_spaced(start: float, end: float, count: int) -> list[float]:
    """`count` times from `start` across [start, end), the first at `start`."""
    span = max(0.0, end - start)
    return [start + span * i / count for i in range(count)]



def kept_as_is(path: Path) -> bool:
    """Whether the library takes this file's container as it is (MP4, MOV or WebM, judged by its bytes, as
    services/storage.py does); any other (MKV from OBS, AVI, MPEG-TS…) is converted to MP4 first."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return True
    return head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head[:64]


def transcode(container: InputContainer, destination: Path, *, fps: float, crf: int, node: str, what: str,
              on_frame: Callable[[float], None]) -> None:
    """The whole clip re-encoded as an MP4 (H.264 yuv420p, AAC); `on_frame(seconds)` runs before each frame
    (progress, and a cancel raised there stops the work)."""
    stream = container.streams.video[0]
    track = container.streams.audio[0].codec_context if container.streams.audio else None
    writer = Mp4Writer(destination, width=stream.codec_context.width, height=stream.codec_context.height,
                       fps=fps or 25.0, crf=crf, audio_rate=track.sample_rate if track else None,
                       audio_layout=track.layout.name if track else None)
    try:
        for _index, seconds, frame in decoded_frames(container, node, what):
            on_frame(seconds)
            writer.add_frame(frame)
        if not writer.frames:
            raise NodeError(f"{node}: {what} has no decodable frame", "bad_video")
        if track is not None:
            copy_audio(container, writer, start=0.0, end=writer.seconds, node=node, what=what)
        writer.close()
    except BaseException:
        writer.abort()
        raise


def copy_streams(container: InputContainer, destination: Path, *, start: float, end: float, node: str,
                 what: str) -> float:
    """The packets from the keyframe at or before `start` up to `end`, copied into an MP4 without re-encoding
    (fast, and no quality is lost; the cut begins on that keyframe). Returns where the cut really begins."""
    import av

    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    origin = float(video.start_time * video.time_base) if video.start_time and video.time_base else 0.0
    output = av.open(str(destination), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        copies: dict[int, Any] = {video.index: output.add_stream_from_template(video)}
        if audio is not None:
            copies[audio.index] = output.add_stream_from_template(audio)
        if start > 0 and video.time_base:
            container.seek(int((origin + start) / video.time_base), stream=video, backward=True)
        begin: float | None = None  # seconds of the first video packet (a keyframe)
        for packet in container.demux(*(s for s in (video, audio) if s is not None)):
            if packet.dts is None or packet.time_base is None:
                continue  # the demuxer's final empty packets
            at = float((packet.pts if packet.pts is not None else packet.dts) * packet.time_base) - origin
            if packet.stream.index == video.index:
                if begin is None:
                    if not packet.is_keyframe:
                        continue
                    begin = at
                if float(packet.dts * packet.time_base) - origin >= end:
                    break
            elif begin is None or at < begin or at >= end:
                continue
            shift = round(begin / float(packet.time_base)) + round(origin / float(packet.time_base))
            packet.pts = packet.pts - shift if packet.pts is not None else None
            packet.dts -= shift
            packet.stream = copies[packet.stream.index]
            output.mux(packet)
        if begin is None:
            raise NodeError(f"{node}: no keyframe of {what} lies before {end:g} s", "no_frames")
        output.close()
    except av.FFmpegError as exc:
        _close_quietly(output)
        raise NodeError(f"{node}: {what} could not be copied ({_reason(exc)})", "bad_video") from None
    except BaseException:
        _close_quietly(output)
        raise
    return begin


def _close_quietly(output: Any) -> None:
    try:
        output.close()
    except Exception:  # a half-written file is deleted by the caller anyway
        pass
