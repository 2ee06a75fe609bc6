"""Input nodes: an image file, a folder of photos, or products already in the library, as a graph's media."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artfactory.config import Settings, SettingsError, load_settings, shipped_graphs_dir
from artfactory.engine.nodetypes import Media, NewMedia, NodeError, NodeType, Param, Port, RunContext
from artfactory.files import FileRefused, check_regular, open_regular, show_path
from artfactory.lazy import lazy_module
from artfactory.services.folder_inputs import (
    DEFAULT_PATTERN,
    MAX_FOLDER_FILES,
    SORT_ORDERS,
    FolderError,
    FolderFile,
    FolderListing,
    folder_key,
    hash_memo,
    list_folder,
    resolve_folder,
)

if TYPE_CHECKING:
    from PIL import Image
else:  # Pillow is imported when an image is first touched: a fully cached run and `artfactory nodes` never touch one.
    Image = lazy_module("PIL.Image")

CHUNK = 1024 * 1024


def resolve_path(raw: str) -> Path:
    """The file a `path` param names; relative paths are taken from the current working directory."""
    path = Path(raw.strip()).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def _max_bytes(home: Path) -> int:
    # The library's own limit when its settings can be read; the run reports a bad settings file itself.
    try:
        return load_settings(home).max_file_bytes
    except SettingsError:
        return Settings().max_file_bytes


def file_key(params: Mapping[str, Any], home: Path) -> str:
    """The sha256 of the file's bytes: the cache key changes exactly when the file's content does.
    Only a regular file under the library's size limit is read: a device or pipe would never end. The library's
    hash memo (the one input.folder keeps) answers for a file unchanged since it was hashed, so a cost badge or a
    plan after each edit does not read a multi-GB clip again: a stat suffices."""
    path = resolve_path(str(params.get("path") or ""))
    try:
        size = check_regular(path, _max_bytes(home))
        st = path.stat()
    except FileRefused as exc:
        # Not readable as an image file now; the run reports why. A distinct key never matches a cached result.
        return f"missing:{path}" if exc.reason == "file not found" else f"unreadable:{path}"
    except OSError:
        return f"unreadable:{path}"
    memo = hash_memo(home)
    digest = memo.sha256(FolderFile(path, path.name, size, st.st_mtime_ns, st.st_ino))
    memo.save()
    return digest or f"unreadable:{path}"


def checked_input_file(ctx: RunContext, params: Mapping[str, Any], node_type: str) -> Path:
    """The file a `path` param names, if it is a regular file under the library's size limit; else the node fails
    naming it (`missing_file` when it is not there)."""
    path = resolve_path(params["path"])
    try:
        check_regular(path, getattr(ctx.settings, "max_file_bytes", None) or Settings().max_file_bytes)
    except FileRefused as exc:
        code = "missing_file" if exc.reason.startswith("file not found") else "bad_input"
        raise NodeError(f"{node_type}: {exc}", code) from None
    return path


def _run_image(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    path = checked_input_file(ctx, params, "input.image")
    try:
        with open_regular(path) as fh, Image.open(fh) as image:
            fmt = image.format
            width, height = image.size
            image.verify()  # decodes enough to catch a truncated or fake file before it is copied
    except FileRefused as exc:
        raise NodeError(f"input.image: {exc}", "unreadable") from None
    except PermissionError:
        raise NodeError(f"input.image: {show_path(path)} cannot be read (permission denied)", "unreadable") from None
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise NodeError(f"input.image: {show_path(path)} is not an image Pillow can read ({exc})",
                        "bad_image") from None
    meta = {
        "prompt": "",
        "seed": None,
        "provider": None,
        "model": None,
        "params": dict(params),
        "source_product_ids": [],
        "source_path": str(path),
        "title": path.name,
        "source_format": fmt,
        "source_size": [width, height],
    }
    return {"image": [NewMedia(file=path, name=path.name, meta=meta)]}


INPUT_IMAGE = NodeType(
    type="input.image",
    title="Image file",
    doc="Imports an image file from disk as a product.",
    version=1,
    run=_run_image,
    outputs=(Port("image", "image", doc="the imported image"),),
    params=(Param("path", "path", "", required=True,
                  doc="The image file; a relative path is taken from the current folder."),),
    external_key=file_key,
)


# -- input.folder ------------------------------------------------------------------------------------------------

def _folder_listing(params: Mapping[str, Any], max_bytes: int) -> FolderListing:
    folder = resolve_folder(str(params.get("folder") or ""), shipped_graphs_dir())
    return list_folder(folder, pattern=str(params.get("pattern") or ""), recursive=bool(params.get("recursive")),
                       sort=str(params.get("sort") or "name"), descending=bool(params.get("descending")),
                       limit=int(params.get("limit") or 0), max_bytes=max_bytes)


def folder_cache_key(params: Mapping[str, Any], home: Path) -> str:
    """The folder's content as the run would take it: per file its relative path, size and sha256 (from a
    (path, size, mtime_ns, inode) → sha256 memo kept in the library, so an unchanged folder costs a stat per
    file), and the refused entries. A file added, removed, renamed or edited changes the key."""
    try:
        listing = _folder_listing(params, _max_bytes(home))
    except FolderError as exc:
        return f"unlisted:{exc}"  # the run reports it; a distinct key never matches a cached result
    if len(listing.files) > MAX_FOLDER_FILES:
        return f"too-many:{len(listing.files)}"
    digest = hashlib.sha256()
    for row in folder_key(listing, hash_memo(home)):
        digest.update(repr(row).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _run_folder(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    max_bytes = getattr(ctx.settings, "max_file_bytes", None) or Settings().max_file_bytes
    try:
        listing = _folder_listing(params, max_bytes)
    except FolderError as exc:
        raise NodeError(f"input.folder: {exc}", "missing_file" if "not found" in str(exc) else "bad_input") from None
    if len(listing.files) > MAX_FOLDER_FILES:
        raise NodeError(f"input.folder: {show_path(listing.folder)} has {len(listing.files):,} matching files; "
                        f"set a limit (at most {MAX_FOLDER_FILES:,} per run)", "bad_param")
    refused = list(listing.refused)
    made: list[NewMedia] = []
    total = len(listing.files)
    for index, item in enumerate(listing.files):
        ctx.check_canceled()
        ctx.progress(100.0 * index / max(total, 1), f"{index + 1}/{total} {item.relative}")
        try:
            # The storage's own check (magic bytes, a full decode): a file that passes it is stored as is.
            info = ctx.storage.inspect(item.path, display_name=item.relative)
        except Exception as exc:  # StorageError and anything a damaged file makes a decoder raise
            reason = str(exc)
            prefix = f"{item.relative}: "
            refused.append((item.relative, reason[len(prefix):] if reason.startswith(prefix) else reason))
            continue
        if info.media_type != "image":
            refused.append((item.relative, f"a {info.media_type}, not an image (bring videos in with input.video)"))
            continue
        made.append(NewMedia(file=item.path, name=item.path.name, meta={
            "prompt": "", "seed": None, "provider": None, "model": None, "params": dict(params),
            "source_product_ids": [], "source_path": str(item.path), "source_folder": str(listing.folder),
            "relative_path": item.relative, "title": item.path.name,
        }))
    if refused and params.get("on_error") == "fail":
        first, reason = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise NodeError(f"input.folder: {first} in {show_path(listing.folder)}: {reason}{more}", "bad_image")
    skipped = ""
    if refused:
        names = ", ".join(f"{relative} ({reason})" for relative, reason in refused[:5])
        skipped = f"; skipped {len(refused)}: {names}" + (" …" if len(refused) > 5 else "")
    if not made:
        raise NodeError(f"input.folder: no image to take from {show_path(listing.folder)} matching "
                        f"{params.get('pattern') or '*'!r}{skipped}", "no_input")
    summary = f"{len(made)} image(s) from {show_path(listing.folder)}{skipped}"
    if listing.matched > len(listing.files):
        summary += f"; the first {len(listing.files)} of {listing.matched} matching files (limit)"
    # The summary and one line per skipped file become the node's message (orders show, the canvas).
    ctx.log(summary)
    for relative, reason in refused:
        ctx.log(f"skipped {relative}: {reason}")
    ctx.progress(100.0, summary)
    return {"image": made}


INPUT_FOLDER = NodeType(
    type="input.folder",
    title="Image folder",
    doc="Every image in a folder matching a pattern, as a batch (one product per file); files that are not images "
        "are skipped and named, or fail the node.",
    version=1,
    run=_run_folder,
    outputs=(Port("image", "image", doc="the folder's images, in the chosen order"),),
    params=(
        Param("folder", "path", "", required=True,
              doc="The folder; a relative path is taken from the current folder (or the shipped graphs folder)."),
        Param("pattern", "string", DEFAULT_PATTERN,
              doc="Glob patterns separated by ';' (case-insensitive), e.g. *.jpg;*.png; empty = every file."),
        Param("recursive", "bool", False, doc="Also take the files of sub-folders."),
        Param("sort", "choice", "name", choices=SORT_ORDERS,
              doc="Order of the batch: file name (IMG_2 before IMG_10), modification date or size."),
        Param("descending", "bool", False, doc="Reverse the order (newest or largest first)."),
        Param("limit", "int", 0, minimum=0, maximum=MAX_FOLDER_FILES,
              doc="Take at most this many files (after sorting); 0 = all."),
        Param("on_error", "choice", "skip", choices=("skip", "fail"),
              doc="A file that is not a readable image: skip it (named in the node's message) or fail the node."),
    ),
    external_key=folder_cache_key,
)


# -- input.product -----------------------------------------------------------------------------------------------

def product_cache_key(params: Mapping[str, Any], home: Path) -> str:
    """The products' ids and sha256 in order: unchanged inputs never re-execute; a collection that gains or loses
    a product, or an id that now names other bytes, changes the key."""
    from artfactory.services.product_inputs import ProductInputError, resolve_products

    try:
        refs = resolve_products(home, str(params.get("products") or ""), str(params.get("collection") or ""),
                                str(params.get("project") or ""))
    except ProductInputError as exc:
        return f"unresolved:{exc}"
    digest = hashlib.sha256()
    for ref in refs:
        digest.update(f"{ref.id}:{ref.sha256};".encode())
    return digest.hexdigest()


def _run_product(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, list[Any]]:
    from artfactory.services.product_inputs import ProductInputError, resolve_products

    try:
        refs = resolve_products(ctx.home, str(params.get("products") or ""), str(params.get("collection") or ""),
                                str(params.get("project") or ""))
    except ProductInputError as exc:
        raise NodeError(f"input.product: {exc}", "missing_product") from None
    for ref in refs:
        if not ref.path.is_file():
            raise NodeError(f"input.product: the file of product {ref.id} is missing from the library "
                            f"({show_path(ref.path)})", "missing_file")
    # The products themselves travel on (no copy): what is made from them records them as its sources, and the
    # order records that it took them in (order_inputs), so lineage crosses orders.
    media = [Media(product_id=r.id, path=r.path, media_type=r.media_type, width=r.width, height=r.height,
                   prompt=r.prompt, seed=r.seed, title=r.name) for r in refs]
    ctx.progress(100.0, f"{len(media)} product(s)")
    return {"media": media}


def _check_product(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not str(params.get("products") or "").strip() and not str(params.get("collection") or "").strip():
        return [("products", "give product ids or a collection name")]
    return []


INPUT_PRODUCT = NodeType(
    type="input.product",
    title="Library products",
    doc="Products already in the library — by id, or a whole collection — as media; what is made from them "
        "remembers them as its sources.",
    version=1,
    run=_run_product,
    outputs=(Port("media", "media", doc="the products, in the order given (a collection: as added)"),),
    params=(
        Param("products", "text", "", doc="Product ids, separated by spaces, commas or new lines."),
        Param("collection", "string", "", doc="A collection name: all of its products (after any ids)."),
        Param("project", "string", "", doc="The collection's project, when the name is used in several."),
    ),
    external_key=product_cache_key,
    check_params=_check_product,
    takes_in=True,
)
