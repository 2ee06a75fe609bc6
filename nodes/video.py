"""Video nodes: import a clip, extract frames, assemble frames into an MP4, trim a clip, grab a thumbnail."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Param, Port, RunContext
from artfactory.files import show_path
from artfactory.lazy import lazy_module
from artfactory.services.video_info import VideoFacts, probe
from nodes.inputs import checked_input_file, file_key
from nodes.transform import open_image
from nodes.video_io import (
    MAX_FPS,
    Mp4Writer,
    copy_audio,
    copy_streams,
    decoded_frames,
    evenly_spaced,
    frame_at,
    frame_image,
    kept_as_is,
    open_video,
    transcode,
    video_media,
)

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from PIL import Image, ImageOps
else:  # Pillow is imported when an image is first touched: a fully cached run and `artfactory nodes` never touch one.
    Image = lazy_module("PIL.Image")
    ImageOps = lazy_module("PIL.ImageOps")

Outputs = dict[str, list[Any]]
FRAME_MODES = ("every_nth", "evenly_spaced", "time_range")
IMAGE_FORMATS = ("png", "jpeg")


def _temp_file(ctx: RunContext, suffix: str) -> Path:
    """A new file name in the library's temp/ (a node's files are moved from there into place)."""
    folder = Path(ctx.storage.temp_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def _save_frame(ctx: RunContext, image: Image.Image, fmt: str) -> Path:
    path = _temp_file(ctx, ".jpg" if fmt == "jpeg" else ".png")
    if fmt == "jpeg":
        image.convert("RGB").save(path, format="JPEG", quality=95)
    else:
        image.save(path, format="PNG", compress_level=1)  # frames are many and short-lived as files: speed first
    return path


def _derived(source: Media, params: Mapping[str, Any]) -> dict[str, Any]:
    """Product metadata for something made from a video: its prompt and seed travel on, lineage names it."""
    return {"prompt": source.prompt, "seed": source.seed, "provider": None, "model": None, "params": dict(params),
            "source_product_ids": [source.product_id]}


def _discard(files: list[NewMedia]) -> None:
    for made in files:
        if made.file is not None:
            made.file.unlink(missing_ok=True)


def _probe_file(path: Path, node: str) -> VideoFacts:
    with open_video(path, node, "the encoded video") as container:
        return probe(container)


# -- input.video ------------------------------------------------------------------------------------

def _run_input(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    path = checked_input_file(ctx, params, "input.video")
    node, shown = "input.video", show_path(path)
    meta: dict[str, Any] = {"prompt": "", "seed": None, "provider": None, "model": None, "params": dict(params),
                            "source_product_ids": [], "source_path": str(path)}
    with open_video(path, node, shown) as container:
        facts = probe(container)
        if not kept_as_is(path):
            # The library keeps MP4, MOV and WebM (what Qt plays everywhere): an MKV or AVI becomes an MP4.
            converted = _temp_file(ctx, ".mp4")
            meta["converted_from"] = container.format.name
            try:
                transcode(container, converted, fps=facts.fps, crf=18, node=node, what=shown,
                          on_frame=lambda at: _converting(ctx, at, facts.duration))
                facts = _probe_file(converted, node)
            except BaseException:
                converted.unlink(missing_ok=True)
                raise
            meta["video"] = facts.meta()
            return {"video": [NewMedia(file=converted, name=f"{path.stem}.mp4", meta=meta)]}
        # One decoded frame proves the stream is real video, not just a plausible header.
        if next(decoded_frames(container, node, shown), None) is None:
            raise NodeError(f"{node}: {shown} has no decodable frame", "bad_video")
    meta["video"] = facts.meta()
    return {"video": [NewMedia(file=path, name=path.name, meta=meta)]}


def _converting(ctx: RunContext, seconds: float, duration: float) -> None:
    ctx.check_canceled()
    if duration:
        ctx.progress(95 * seconds / duration, "converting to MP4")


INPUT_VIDEO = NodeType(
    type="input.video",
    title="Video file",
    doc="Imports a video file from disk as a product; MP4, MOV and WebM are kept as they are, other containers "
        "(MKV, AVI…) are converted to MP4 (H.264 + AAC).",
    version=1,
    run=_run_input,
    outputs=(Port("video", "video", doc="the imported video"),),
    params=(Param("path", "path", "", required=True,
                  doc="The video file; a relative path is taken from the current folder."),),
    external_key=file_key,
)


# -- video.frames -----------------------------------------------------------------------------------

def _check_range(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    end, start = params.get("end") or 0.0, params.get("start") or 0.0
    if end and end <= start:
        return [("end", f"must be after start ({start:g} s), or 0 for the end of the video")]
    return []


def _range(node: str, facts: VideoFacts, params: Mapping[str, Any]) -> tuple[float, float]:
    """The [start, end) seconds asked for, inside the clip; a start past the end is an error."""
    start, end = float(params["start"]), float(params["end"] or 0.0)
    duration = facts.duration
    if duration and start >= duration:
        raise NodeError(f"{node}: start {start:g} s is past the end of the video ({duration:.2f} s long)",
                        "bad_param")
    if not end or (duration and end > duration):
        end = duration or math.inf
    return start, end


def _run_frames(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    node = "video.frames"
    media = video_media(inputs.get("video"), node)
    what = f"product {media.product_id}"
    mode, step, limit = params["mode"], int(params["step"]), int(params["max_frames"])
    made: list[NewMedia] = []
    try:
        with open_video(media.path, node, what) as container:
            facts = probe(container)
            start, end = _range(node, facts, params)
            half = 0.5 / facts.fps if facts.fps else 0.0
            expected = _expected(mode, step, int(params["count"]), facts.fps, start, end)
            if expected is not None and expected > limit:
                raise NodeError(f"{node}: this would extract about {expected:,} frames; max_frames is {limit:,} "
                                "(raise it, take a larger step, or a shorter range)", "too_many_frames")
            if mode == "evenly_spaced":
                frames = _spread(ctx, container, start, end if math.isfinite(end) else facts.duration,
                                 int(params["count"]), node, what)
            else:
                frames = _in_order(ctx, container, start, end, 1 if mode == "time_range" else step, half, node, what)
            for index, seconds, frame in frames:
                if len(made) >= limit:
                    raise NodeError(f"{node}: more than max_frames ({limit:,}) frames in the range (raise it, take "
                                    "a larger step, or a shorter range)", "too_many_frames")
                meta = _derived(media, params)
                meta.update({"timestamp": round(seconds, 4), "frame_index": index})
                made.append(NewMedia(file=_save_frame(ctx, frame_image(frame), params["format"]),
                                     name=f"frame-{index:06d}", meta=meta))
    except BaseException:
        _discard(made)
        raise
    if not made:
        shown = f"{end:.2f} s" if math.isfinite(end) else "the end"
        raise NodeError(f"{node}: no frame of {what} lies between {start:g} s and {shown}", "no_frames")
    return {"images": list(made)}


Picked = Iterator[tuple[int, float, "VideoFrame"]]


def _in_order(ctx: RunContext, container: InputContainer, start: float, end: float, step: int, half: float,
              node: str, what: str) -> Picked:
    """Every `step`th frame shown between start and end, decoding straight through (frame indices counted)."""
    position = 0  # frames seen inside the range
    for index, seconds, frame in decoded_frames(container, node, what, start):
        ctx.check_canceled()
        if seconds + half < start:
            continue
        if seconds + half >= end:
            return
        if position % step == 0:
            yield index, seconds, frame
            if math.isfinite(end) and end > start:
                ctx.progress(100 * (seconds - start) / (end - start), f"frame {index + 1}")
        position += 1


def _spread(ctx: RunContext, container: InputContainer, start: float, end: float, count: int, node: str,
            what: str) -> Picked:
    """`count` frames spread evenly over [start, end), each reached by seeking; a frame is taken once even when
    more are asked for than the range holds."""
    taken: set[int] = set()
    for number, wanted in enumerate(evenly_spaced(start, end, count)):
        ctx.check_canceled()
        found = frame_at(container, wanted, node, what)
        if found is None or found[1] >= end or found[0] in taken:
            continue
        taken.add(found[0])
        yield found
        ctx.progress(100 * (number + 1) / count, f"frame {number + 1} of {count}")


def _expected(mode: str, step: int, count: int, fps: float, start: float, end: float) -> int | None:
    """About how many frames a mode takes (for refusing a huge extraction before writing anything)."""
    if mode == "evenly_spaced":
        return count
    if not fps or not math.isfinite(end):
        return None
    frames = math.ceil((end - start) * fps)
    return frames if mode == "time_range" else math.ceil(frames / step)


VIDEO_FRAMES = NodeType(
    type="video.frames",
    title="Extract frames",
    doc="Extracts frames of a video as an image batch: every Nth frame, N evenly spaced, or every frame of a time "
        "range. Each frame remembers its timestamp, frame number and the video it came from.",
    version=1,
    run=_run_frames,
    inputs=(Port("video", "video", doc="the video to take frames from"),),
    outputs=(Port("images", "image", doc="the frames, in order"),),
    params=(
        Param("mode", "choice", "every_nth", choices=FRAME_MODES,
              doc="every_nth: every `step`th frame; evenly_spaced: `count` frames spread over the range; "
                  "time_range: every frame between start and end."),
        Param("step", "int", 10, minimum=1, maximum=100_000, doc="every_nth: keep one frame in this many."),
        Param("count", "int", 8, minimum=1, maximum=10_000, doc="evenly_spaced: how many frames."),
        Param("start", "float", 0.0, minimum=0.0, doc="Seconds from the start where the range begins."),
        Param("end", "float", 0.0, minimum=0.0, doc="Seconds where the range ends (exclusive); 0 = the end."),
        Param("max_frames", "int", 500, minimum=1, maximum=10_000,
              doc="Refuse to extract more frames than this (a long clip makes thousands)."),
        Param("format", "choice", "png", choices=IMAGE_FORMATS, doc="png (lossless) or jpeg (smaller)."),
    ),
    check_params=_check_range,
)


# -- video.assemble ---------------------------------------------------------------------------------

def _fitted(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An RGB frame of exactly `size`: the odd pixel cropped, other sizes letterboxed onto black."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    image = image.convert("RGB")
    width, height = size
    if image.size == size:
        return image
    if image.width - width in (0, 1) and image.height - height in (0, 1):
        return image.crop((0, 0, width, height))
    return ImageOps.pad(image, size, method=Image.Resampling.LANCZOS, color=(0, 0, 0))


def _frame_size(first: Image.Image, params: Mapping[str, Any]) -> tuple[int, int]:
    width, height = int(params["width"]), int(params["height"])
    if width and not height:
        height = round(first.height * width / first.width)
    elif height and not width:
        width = round(first.width * height / first.height)
    elif not width:
        width, height = first.size
    return max(2, width - width % 2), max(2, height - height % 2)


def _audio_source(inputs: Mapping[str, Any], node: str) -> Media | None:
    values = inputs.get("audio")
    values = [] if values is None else list(values) if isinstance(values, list | tuple) else [values]
    return video_media(values[0], node, "audio") if values else None


def _run_assemble(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    node = "video.assemble"
    images = inputs.get("images")
    images = [] if images is None else list(images) if isinstance(images, list | tuple) else [images]
    if not images:
        raise NodeError(f"{node}: the image batch is empty, so there is nothing to assemble", "empty_batch")
    audio = _audio_source(inputs, node)
    first, _ = open_image(images[0], node, "images")
    size = _frame_size(first, params)
    path = _temp_file(ctx, ".mp4")
    audio_container = None
    try:
        audio_rate, layout = None, None
        if audio is not None:
            audio_container = open_video(audio.path, node, f"product {audio.product_id}")
            if audio_container.streams.audio:
                track = audio_container.streams.audio[0].codec_context
                audio_rate, layout = track.sample_rate, track.layout.name
            else:
                # A silent clip on 'audio' makes a silent video: footage swapped into a template may have none.
                ctx.log(f"the video on 'audio' (product {audio.product_id}) has no audio track; the result is silent")
                audio_container.close()
                audio, audio_container = None, None
        writer = Mp4Writer(path, width=size[0], height=size[1], fps=float(params["fps"]), crf=int(params["crf"]),
                           audio_rate=audio_rate, audio_layout=layout)
        try:
            for index, media in enumerate(images):
                ctx.check_canceled()
                image = first if index == 0 else open_image(media, node, "images")[0]
                writer.add_image(_fitted(image, size))
                ctx.progress(90 * (index + 1) / len(images), f"frame {index + 1} of {len(images)}")
            if audio_container is not None and audio is not None:
                copy_audio(audio_container, writer, start=0.0, end=writer.seconds, node=node,
                           what=f"product {audio.product_id}")
            writer.close()
        except BaseException:
            writer.abort()
            raise
        facts = _probe_file(path, node)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        if audio_container is not None:
            audio_container.close()
    source = images[0] if isinstance(images[0], Media) else None
    ids = [m.product_id for m in images if isinstance(m, Media)]
    meta = {"prompt": source.prompt if source else "", "seed": source.seed if source else None, "provider": None,
            "model": None, "params": dict(params),
            "source_product_ids": ids + ([audio.product_id] if audio is not None else []),
            "video": facts.meta()}
    if audio is not None:
        meta["audio_from"] = audio.product_id
    return {"video": [NewMedia(file=path, name="assembled.mp4", meta=meta)]}


VIDEO_ASSEMBLE = NodeType(
    type="video.assemble",
    title="Assemble video",
    doc="Encodes the whole image batch, in order, as an MP4 video (H.264, yuv420p) at a frame rate; the audio "
        "of a video on 'audio' is carried over (cut to the video's length).",
    version=1,
    run=_run_assemble,
    inputs=(Port("images", "image", whole_list=True, doc="the frames, in order"),
            Port("audio", "video", optional=True, whole_list=True,
                 doc="a video whose audio track the result takes (optional)")),
    outputs=(Port("video", "video", doc="the MP4 video"),),
    params=(
        Param("fps", "float", 12.0, minimum=0.1, maximum=MAX_FPS, doc="Frames per second."),
        Param("crf", "int", 20, minimum=0, maximum=51, doc="H.264 quality: lower is better and larger (18-28)."),
        Param("width", "int", 0, minimum=0, maximum=8192,
              doc="Frame width; 0 = the first image's (or in proportion to height). Odd sizes lose a pixel."),
        Param("height", "int", 0, minimum=0, maximum=8192,
              doc="Frame height; 0 = the first image's (or in proportion to width)."),
    ),
)


# -- video.trim -------------------------------------------------------------------------------------

def _run_trim(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    node = "video.trim"
    media = video_media(inputs.get("video"), node)
    what = f"product {media.product_id}"
    path = _temp_file(ctx, ".mp4")
    try:
        with open_video(media.path, node, what) as container:
            facts = probe(container)
            start, end = _range(node, facts, params)
            if params["mode"] == "fast":
                ctx.progress(10, "copying without re-encoding")
                begin = copy_streams(container, path, start=start, end=end, node=node, what=what)
                cut = (begin, end)
            else:
                cut = _reencode(ctx, container, path, facts, start, end, int(params["crf"]), what)
        out = _probe_file(path, node)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    meta = _derived(media, params)
    shown_end = cut[1] if math.isfinite(cut[1]) else cut[0] + out.duration
    meta.update({"video": out.meta(), "trim": {"start": round(cut[0], 4), "end": round(shown_end, 4),
                                               "mode": params["mode"]}})
    return {"video": [NewMedia(file=path, name="trimmed.mp4", meta=meta)]}


def _reencode(ctx: RunContext, container: InputContainer, path: Path, facts: VideoFacts, start: float, end: float,
              crf: int, what: str) -> tuple[float, float]:
    """The frames shown from start to end re-encoded (H.264 + AAC): exact to the frame. Returns the cut made."""
    node = "video.trim"
    track = container.streams.audio[0].codec_context if container.streams.audio else None
    writer = Mp4Writer(path, width=facts.width, height=facts.height, fps=facts.fps or 25.0, crf=crf,
                       audio_rate=track.sample_rate if track else None,
                       audio_layout=track.layout.name if track else None)
    half = 0.5 / facts.fps if facts.fps else 0.0
    first = last = start
    try:
        for _index, seconds, frame in decoded_frames(container, node, what, start):
            ctx.check_canceled()
            if seconds + half < start:
                continue
            if seconds + half >= end:
                break
            if not writer.frames:
                first = seconds
            writer.add_frame(frame)
            last = seconds
            if math.isfinite(end):
                ctx.progress(90 * (seconds - start) / max(end - start, 1e-6), "re-encoding")
        if not writer.frames:
            raise NodeError(f"{node}: no frame of {what} lies between {start:g} s and {end:g} s", "no_frames")
        if track is not None:
            copy_audio(container, writer, start=first, end=first + writer.seconds, node=node, what=what)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return first, last + 2 * half


VIDEO_TRIM = NodeType(
    type="video.trim",
    title="Trim video",
    doc="Cuts a video to start…end seconds. exact (the default) re-encodes (H.264 + AAC), so the cut is exact to "
        "the frame; fast copies the streams as they are (no quality lost, seconds for a long clip) but starts "
        "at the keyframe at or before start (and may end a frame or two late where the codec reorders frames).",
    version=1,
    run=_run_trim,
    inputs=(Port("video", "video", doc="the video to cut"),),
    outputs=(Port("video", "video", doc="the cut video"),),
    params=(
        Param("start", "float", 0.0, minimum=0.0, doc="Seconds to cut from the start."),
        Param("end", "float", 0.0, minimum=0.0, doc="Where the result ends, in seconds of the source; 0 = the end."),
        Param("mode", "choice", "exact", choices=("exact", "fast"),
              doc="exact: re-encode, cut on the frame; fast: copy the streams, cut on the keyframe before start."),
        Param("crf", "int", 18, minimum=0, maximum=51, doc="exact: H.264 quality, lower is better and larger."),
    ),
    check_params=_check_range,
)


# -- video.thumbnail --------------------------------------------------------------------------------

def _run_thumbnail(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Outputs:
    node = "video.thumbnail"
    media = video_media(inputs.get("video"), node)
    what = f"product {media.product_id}"
    wanted = float(params["time"])
    with open_video(media.path, node, what) as container:
        facts = probe(container)
        if facts.duration and wanted >= facts.duration:
            raise NodeError(f"{node}: time {wanted:g} s is past the end of the video ({facts.duration:.2f} s long)",
                            "bad_param")
        found = frame_at(container, wanted, node, what)
    if found is None:
        raise NodeError(f"{node}: {what} has no frame at {wanted:g} s", "no_frames")
    index, seconds, frame = found
    meta = _derived(media, params)
    meta.update({"timestamp": round(seconds, 4), "frame_index": index})
    return {"image": [NewMedia(image=frame_image(frame), format=params["format"], quality=95, meta=meta)]}


VIDEO_THUMBNAIL = NodeType(
    type="video.thumbnail",
    title="Video frame",
    doc="Takes the frame shown at a time of a video as an image (a poster or a still).",
    version=1,
    run=_run_thumbnail,
    inputs=(Port("video", "video", doc="the video"),),
    outputs=(Port("image", "image", doc="the frame"),),
    params=(
        Param("time", "float", 0.0, minimum=0.0, doc="Seconds from the start."),
        Param("format", "choice", "png", choices=IMAGE_FORMATS, doc="png (lossless) or jpeg."),
    ),
)
