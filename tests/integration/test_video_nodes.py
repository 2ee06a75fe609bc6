"""The video nodes run for real on tiny PyAV-made clips: frames, assembly with audio, trim, thumbnail, cache, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.nodetypes import Media
from artfactory.models.entities import Product, ProductSource
from artfactory.services import lineage
from artfactory.services.library import Library
from artfactory.workers.headless import HeadlessSession
from tests.support.videos import frame_colour, make_video


@pytest.fixture
def session(library_home: Path) -> Iterator[HeadlessSession]:
    library = Library.open(library_home)
    yield HeadlessSession(library)
    library.close()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """Two seconds at 12 fps, 64×64, with a mono tone."""
    return make_video(tmp_path / "clip.mp4", seconds=2.0, fps=12, audio=True)


def run(session: HeadlessSession, nodes: list[NodeSpec], edges: list[EdgeSpec]) -> dict[str, Any]:
    plan = session.plan(GraphDocument(nodes=nodes, edges=edges))
    order_id, _status = session.run(plan, project_id=session.library.project_id())
    with session.library.db.session() as db:
        return lineage.run_result(session.library, db, order_id)


def products(session: HeadlessSession, ids: list[str]) -> list[Product]:
    with session.library.db.session() as db:
        found = {p.id: p for p in db.query(Product).filter(Product.id.in_(ids))}
        db.expunge_all()
    return [found[i] for i in ids]


def frames_graph(clip: Path, **params: Any) -> tuple[list[NodeSpec], list[EdgeSpec]]:
    return ([NodeSpec("clip", "input.video", {"path": str(clip)}), NodeSpec("frames", "video.frames", params)],
            [EdgeSpec("clip", "video", "frames", "video")])


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def centre(path: Path) -> tuple[int, ...]:
    with Image.open(path) as image:
        value = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(value, tuple)
    return value


def test_input_video_keeps_duration_fps_and_codec(session: HeadlessSession, clip: Path) -> None:
    result = run(session, [NodeSpec("clip", "input.video", {"path": str(clip)})], [])
    assert result["status"] == "succeeded", result
    (video,) = products(session, result["nodes"]["clip"]["products"])
    assert (video.media_type, video.mime, video.width, video.height) == ("video", "video/mp4", 64, 64)
    assert video.duration == pytest.approx(2.0, abs=0.1)
    facts = video.meta["video"]
    assert (facts["fps"], facts["codec"], facts["frames"]) == (12.0, "h264", 24)
    assert facts["audio"]["codec"] == "aac"


def test_an_mkv_is_converted_to_mp4_with_its_audio(session: HeadlessSession, tmp_path: Path) -> None:
    import av

    mkv = make_video(tmp_path / "obs.mkv", seconds=1.0, fps=12, audio=True, container="matroska")
    result = run(session, [NodeSpec("clip", "input.video", {"path": str(mkv)})], [])
    assert result["status"] == "succeeded", result
    (video,) = products(session, result["nodes"]["clip"]["products"])
    assert (video.mime, video.meta["converted_from"]) == ("video/mp4", "matroska,webm")
    assert video.duration == pytest.approx(1.0, abs=0.1) and video.meta["video"]["frames"] == 12
    with av.open(str(session.library.home / video.path)) as container:
        assert container.streams.audio and container.streams.video[0].codec_context.name == "h264"


def test_an_imported_video_records_fps_and_codec(session: HeadlessSession, clip: Path) -> None:
    from artfactory.services.transfer import import_paths

    library = session.library
    (product,) = import_paths(library, [clip], project_id=library.project_id()).products
    (stored,) = products(session, [product.id])
    assert (stored.meta["video"]["fps"], stored.meta["video"]["codec"]) == (12.0, "h264")
    assert stored.meta["video"]["audio"]["codec"] == "aac"


def test_every_nth_frame_with_timestamps_and_lineage(session: HeadlessSession, clip: Path) -> None:
    result = run(session, *frames_graph(clip, mode="every_nth", step=5))
    assert result["status"] == "succeeded", result
    video_id = result["nodes"]["clip"]["products"][0]
    frames = products(session, result["nodes"]["frames"]["products"])
    assert [f.meta["frame_index"] for f in frames] == [0, 5, 10, 15, 20]
    assert [f.meta["timestamp"] for f in frames] == pytest.approx([i / 12 for i in (0, 5, 10, 15, 20)], abs=1e-3)
    assert all(f.meta["source_product_ids"] == [video_id] and f.media_type == "image" for f in frames)
    with session.library.db.session() as db:  # "made from" in the library: each frame names the video
        made_from = {(s.product_id, s.source_id) for s in db.query(ProductSource)}
    assert {(f.id, video_id) for f in frames} <= made_from
    home = session.library.home
    for frame in frames:  # each product really is that frame of the clip
        assert close(centre(home / frame.path), frame_colour(frame.meta["frame_index"]))


def test_evenly_spaced_and_time_range(session: HeadlessSession, clip: Path) -> None:
    spread = run(session, *frames_graph(clip, mode="evenly_spaced", count=4))
    indices = [f.meta["frame_index"] for f in products(session, spread["nodes"]["frames"]["products"])]
    assert indices == [0, 6, 12, 18]
    ranged = run(session, *frames_graph(clip, mode="time_range", start=0.5, end=1.0, format="jpeg"))
    frames = products(session, ranged["nodes"]["frames"]["products"])
    assert [f.meta["frame_index"] for f in frames] == [6, 7, 8, 9, 10, 11]
    assert {f.mime for f in frames} == {"image/jpeg"}


def test_a_late_range_is_reached_by_seeking_with_the_same_frames(session: HeadlessSession, tmp_path: Path) -> None:
    import av

    # Keyframes every second: a range 4 s in starts decoding at the keyframe before it, not at the first frame.
    longer = make_video(tmp_path / "longer.mp4", seconds=6.0, fps=12, audio=True, keyframe_every=12)
    nodes, edges = frames_graph(longer, mode="time_range", start=4.2, end=4.6)
    nodes.append(NodeSpec("cut", "video.trim", {"start": 3.0, "end": 4.0}))
    edges.append(EdgeSpec("clip", "video", "cut", "video"))
    result = run(session, nodes, edges)
    assert result["status"] == "succeeded", result
    frames = products(session, result["nodes"]["frames"]["products"])
    assert [f.meta["frame_index"] for f in frames] == [50, 51, 52, 53, 54]
    for frame in frames:
        assert close(centre(session.library.home / frame.path), frame_colour(frame.meta["frame_index"]))
    (cut,) = products(session, result["nodes"]["cut"]["products"])
    with av.open(str(session.library.home / cut.path)) as container:
        decoded = [f.to_image().getpixel((32, 32)) for f in container.decode(video=0)]
        assert len(decoded) == 12 and close(decoded[0], frame_colour(36)) and close(decoded[-1], frame_colour(47))
        container.seek(0)
        (audio,) = container.streams.audio
        heard = sum(f.samples for f in container.decode(audio)) / audio.codec_context.sample_rate
        assert heard == pytest.approx(1.0, abs=0.1)


def test_a_fast_trim_copies_the_streams_from_the_keyframe_before(session: HeadlessSession, tmp_path: Path) -> None:
    import av

    longer = make_video(tmp_path / "longer.mp4", seconds=6.0, fps=12, audio=True, keyframe_every=12)
    nodes = [NodeSpec("clip", "input.video", {"path": str(longer)}),
             NodeSpec("cut", "video.trim", {"start": 2.5, "end": 4.0, "mode": "fast"})]
    result = run(session, nodes, [EdgeSpec("clip", "video", "cut", "video")])
    assert result["status"] == "succeeded", result
    (cut,) = products(session, result["nodes"]["cut"]["products"])
    assert cut.meta["trim"] == {"start": 2.0, "end": 4.0, "mode": "fast"}  # the keyframe at 2 s
    assert cut.duration == pytest.approx(2.0, abs=0.1)
    with av.open(str(session.library.home / cut.path)) as container:
        frames = [f for f in container.decode(video=0)]
        assert len(frames) == 24 and frames[0].time == pytest.approx(0.0, abs=0.01)
        assert close(frames[0].to_image().getpixel((32, 32)), frame_colour(24))
        assert close(frames[-1].to_image().getpixel((32, 32)), frame_colour(47))
        container.seek(0)
        (audio,) = container.streams.audio
        heard = sum(f.samples for f in container.decode(audio)) / audio.codec_context.sample_rate
        assert heard == pytest.approx(2.0, abs=0.1)


def test_an_unchanged_video_is_not_decoded_again(session: HeadlessSession, clip: Path) -> None:
    first = run(session, *frames_graph(clip, step=6))
    again = run(session, *frames_graph(clip, step=6))
    assert {n: v["status"] for n, v in again["nodes"].items()} == {"clip": "cached", "frames": "cached"}
    assert again["nodes"]["frames"]["products"] == first["nodes"]["frames"]["products"]
    make_video(clip, seconds=1.0, fps=12)  # new content at the same path: both run again
    changed = run(session, *frames_graph(clip, step=6))
    assert {n: v["status"] for n, v in changed["nodes"].items()} == {"clip": "executed", "frames": "executed"}
    assert len(changed["nodes"]["frames"]["products"]) == 2


def test_frames_reassembled_with_the_audio_carried_over(session: HeadlessSession, clip: Path) -> None:
    import av

    nodes, edges = frames_graph(clip, mode="time_range")
    nodes += [NodeSpec("gray", "transform.grayscale"),
              NodeSpec("movie", "video.assemble", {"fps": 12, "width": 47})]
    edges += [EdgeSpec("frames", "images", "gray", "image"), EdgeSpec("gray", "image", "movie", "images"),
              EdgeSpec("clip", "video", "movie", "audio")]
    result = run(session, nodes, edges)
    assert result["status"] == "succeeded", result
    (movie,) = products(session, result["nodes"]["movie"]["products"])
    assert (movie.media_type, movie.mime, movie.width, movie.height) == ("video", "video/mp4", 46, 46)  # even
    assert movie.duration == pytest.approx(2.0, abs=0.1)
    assert movie.meta["video"]["codec"] == "h264" and movie.meta["video"]["fps"] == 12.0
    assert movie.meta["audio_from"] == result["nodes"]["clip"]["products"][0]
    assert len(movie.meta["source_product_ids"]) == 25  # 24 frames + the audio's video
    with av.open(str(session.library.home / movie.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p" and stream.frames == 24
        first = next(container.decode(video=0)).to_image().getpixel((23, 23))
        assert isinstance(first, tuple) and max(first) - min(first) <= 6  # the grayscale frames
        (audio,) = container.streams.audio
        assert audio.codec_context.name == "aac"
        container.seek(0)
        heard = sum(frame.samples for frame in container.decode(audio))
        assert heard / audio.codec_context.sample_rate == pytest.approx(2.0, abs=0.1)


def test_assemble_without_audio_at_another_rate(session: HeadlessSession, clip: Path) -> None:
    import av

    nodes, edges = frames_graph(clip, step=2)
    nodes.append(NodeSpec("movie", "video.assemble", {"fps": 6}))
    edges.append(EdgeSpec("frames", "images", "movie", "images"))
    result = run(session, nodes, edges)
    (movie,) = products(session, result["nodes"]["movie"]["products"])
    assert movie.duration == pytest.approx(2.0, abs=0.1) and movie.meta["video"]["audio"] is None
    with av.open(str(session.library.home / movie.path)) as container:
        assert not container.streams.audio and container.streams.video[0].frames == 12


def test_trim_cuts_to_the_frame_and_keeps_the_audio(session: HeadlessSession, clip: Path) -> None:
    import av

    nodes = [NodeSpec("clip", "input.video", {"path": str(clip)}),
             NodeSpec("cut", "video.trim", {"start": 0.5, "end": 1.5}),
             NodeSpec("still", "video.thumbnail", {"time": 0.25})]
    edges = [EdgeSpec("clip", "video", "cut", "video"), EdgeSpec("cut", "video", "still", "video")]
    result = run(session, nodes, edges)
    assert result["status"] == "succeeded", result
    (cut,) = products(session, result["nodes"]["cut"]["products"])
    assert cut.duration == pytest.approx(1.0, abs=0.1) and cut.meta["trim"]["start"] == 0.5
    with av.open(str(session.library.home / cut.path)) as container:
        assert container.streams.video[0].frames == 12
        first = next(container.decode(video=0)).to_image().getpixel((32, 32))
        assert isinstance(first, tuple) and close(first, frame_colour(6))  # the frame at 0.5 s
        assert container.streams.audio
    (still,) = products(session, result["nodes"]["still"]["products"])
    assert still.meta["frame_index"] == 3 and still.meta["source_product_ids"] == [cut.id]
    assert close(centre(session.library.home / still.path), frame_colour(9))  # 0.25 s into the cut = 0.75 s


def test_a_video_gets_thumbnails_from_its_poster_frame(session: HeadlessSession, clip: Path) -> None:
    result = run(session, [NodeSpec("clip", "input.video", {"path": str(clip)})], [])
    (video_id,) = result["nodes"]["clip"]["products"]
    for size in ("small", "medium", "large"):
        with Image.open(session.library.home / "thumbnails" / size / f"{video_id}.webp") as image:
            assert image.size == (64, 64)


# -- errors -----------------------------------------------------------------------------------------

def error_of(result: dict[str, Any], node: str) -> str:
    assert result["nodes"][node]["status"] == "failed", result
    return str(result["nodes"][node]["error"])


def test_a_corrupt_video_fails_with_one_clear_line(session: HeadlessSession, tmp_path: Path, clip: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)
    message = error_of(run(session, [NodeSpec("clip", "input.video", {"path": str(broken)})], []), "clip")
    assert "broken.mp4 is damaged or incomplete" in message and "\n" not in message
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    assert "not a readable video" in error_of(run(session, [NodeSpec("c", "input.video", {"path": str(text)})], []),
                                              "c")
    cut = tmp_path / "cut.mp4"  # a copy interrupted half way
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    message = error_of(run(session, [NodeSpec("half", "input.video", {"path": str(cut)})], []), "half")
    assert message == (f"input.video: {cut} is damaged or incomplete (an interrupted copy or recording?) "
                       "(Invalid data found when processing input)")


def test_a_range_past_the_end_is_refused(session: HeadlessSession, clip: Path) -> None:
    message = error_of(run(session, *frames_graph(clip, start=5.0)), "frames")
    assert message == "video.frames: start 5 s is past the end of the video (2.00 s long)"
    nodes = [NodeSpec("clip", "input.video", {"path": str(clip)}), NodeSpec("still", "video.thumbnail", {"time": 9})]
    result = run(session, nodes, [EdgeSpec("clip", "video", "still", "video")])
    assert "past the end" in error_of(result, "still")


def test_too_many_frames_are_refused_before_any_is_written(session: HeadlessSession, clip: Path) -> None:
    message = error_of(run(session, *frames_graph(clip, mode="time_range", max_frames=10)), "frames")
    assert "about 24 frames; max_frames is 10" in message
    assert not list((session.library.home / "temp").glob("*.png"))


def test_an_empty_batch_cannot_be_assembled(session: HeadlessSession) -> None:
    # An empty list can arrive (e.g. a folder input with nothing in it); run the node on one directly.
    from artfactory.engine.batch import execute_node
    from artfactory.engine.context import NodeContext
    from nodes.video import VIDEO_ASSEMBLE

    library = session.library
    ctx = NodeContext(node_id="movie", order_id="o", home=library.home, settings=None, storage=library.storage)
    outcome = execute_node(VIDEO_ASSEMBLE, "movie", ctx, {"images": [], "audio": None}, VIDEO_ASSEMBLE.defaults(),
                           library.storage, project_id=library.project_id(), redact=str)
    assert (outcome.status, outcome.code) == ("failed", "empty_batch")
    assert outcome.error == "video.assemble: the image batch is empty, so there is nothing to assemble"


def test_a_silent_video_on_audio_makes_a_silent_video(session: HeadlessSession, tmp_path: Path) -> None:
    import av

    silent = make_video(tmp_path / "silent.mp4", seconds=1.0)
    nodes, edges = frames_graph(silent, step=3)
    nodes.append(NodeSpec("movie", "video.assemble"))
    edges += [EdgeSpec("frames", "images", "movie", "images"), EdgeSpec("clip", "video", "movie", "audio")]
    result = run(session, nodes, edges)
    assert result["status"] == "succeeded", result
    (movie,) = products(session, result["nodes"]["movie"]["products"])
    assert "audio_from" not in movie.meta and movie.meta["video"]["audio"] is None
    with av.open(str(session.library.home / movie.path)) as container:
        assert not container.streams.audio


def test_a_transform_fed_a_video_says_to_extract_frames_first(session: HeadlessSession, clip: Path) -> None:
    from artfactory.engine.validate import validate

    doc = GraphDocument(nodes=[NodeSpec("clip", "input.video", {"path": str(clip)}),
                               NodeSpec("small", "transform.resize", {"width": 32, "height": 32})],
                        edges=[EdgeSpec("clip", "video", "small", "image")])
    (problem,) = validate(doc, session.library.registry)
    assert problem.code == "type_mismatch" and "extract frames first with video.frames" in problem.message


def test_listing_the_nodes_does_not_load_pyav(tmp_path: Path) -> None:
    from tests.unit.test_cli_lazy_imports import loaded_after

    assert "av" not in loaded_after(tmp_path, "nodes", "--json")


def test_a_video_reaching_a_transform_at_run_time_says_to_extract_frames(session: HeadlessSession,
                                                                          clip: Path) -> None:
    # A media output (here a collection's pass-through) fits an image input; the item is checked when it runs.
    nodes = [NodeSpec("clip", "input.video", {"path": str(clip)}), NodeSpec("keep", "collection.add",
                                                                              {"collection": "Clips"}),
             NodeSpec("small", "transform.resize", {"width": 32, "height": 32})]
    edges = [EdgeSpec("clip", "video", "keep", "media"), EdgeSpec("keep", "media", "small", "image")]
    message = error_of(run(session, nodes, edges), "small")
    assert message.startswith("input 'image' of transform.resize takes an image but received a video (product ")
    assert message.endswith("; extract frames first with video.frames")


def test_frames_of_other_sizes_are_letterboxed_and_odd_sides_lose_a_pixel() -> None:
    from nodes.video import _fitted

    tall = _fitted(Image.new("RGBA", (32, 64), (200, 30, 30, 255)), (64, 64))
    assert tall.size == (64, 64) and tall.mode == "RGB"
    assert tall.getpixel((32, 32)) == (200, 30, 30) and tall.getpixel((2, 32)) == (0, 0, 0)
    odd = _fitted(Image.new("RGB", (65, 47), (10, 200, 10)), (64, 46))
    assert odd.size == (64, 46) and odd.getpixel((63, 45)) == (10, 200, 10)  # cropped, not rescaled


def test_an_end_before_the_start_is_refused_before_the_run(session: HeadlessSession, clip: Path) -> None:
    from artfactory.engine.validate import validate

    doc = GraphDocument(nodes=[NodeSpec("clip", "input.video", {"path": str(clip)}),
                               NodeSpec("cut", "video.trim", {"start": 1.5, "end": 1.0})],
                        edges=[EdgeSpec("clip", "video", "cut", "video")])
    (problem,) = validate(doc, session.library.registry)
    assert (problem.node_id, problem.code) == ("cut", "bad_param") and "must be after start (1.5 s)" in problem.message


def test_a_cancelled_extraction_leaves_no_frame_behind(session: HeadlessSession, clip: Path) -> None:
    from artfactory.engine.batch import execute_node
    from artfactory.engine.context import NodeContext
    from nodes.video import VIDEO_FRAMES

    library = session.library
    video = run(session, [NodeSpec("clip", "input.video", {"path": str(clip)})], [])["nodes"]["clip"]["products"]
    (stored,) = products(session, video)
    media = Media(product_id=stored.id, path=library.home / stored.path, media_type="video")
    ctx = NodeContext(node_id="frames", order_id="o", home=library.home, settings=None, storage=library.storage)
    seen: list[float] = []

    def cancel_after_three(percent: float, _message: str) -> None:
        seen.append(percent)
        if len(seen) == 3:
            ctx.cancel_event.set()

    ctx.on_progress = cancel_after_three
    params = {**VIDEO_FRAMES.defaults(), "mode": "time_range"}
    outcome = execute_node(VIDEO_FRAMES, "frames", ctx, {"video": [media]}, params, library.storage,
                           project_id=library.project_id(), redact=str)
    assert outcome.status == "canceled" and len(seen) == 3
    assert not [p for p in (library.home / "temp").iterdir() if p.suffix in (".png", ".jpg")]
