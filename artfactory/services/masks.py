"""Masks painted over a product: what they are painted on, and saving one as a one-channel PNG mask product."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from artfactory.models import Product, new_id
from artfactory.models.entities import ProductSource
from artfactory.services.library import Library
from artfactory.services.storage import StorageError, sanitize_name

if TYPE_CHECKING:
    from PIL import Image

MASK_NODE_TYPE = "mask.paint"  # the products table's node_type of a painted mask (it has no order)


class MaskError(Exception):
    """A mask that cannot be painted or saved; the message names the product and why."""


@dataclass(frozen=True)
class MaskSource:
    """The image product a mask is painted over."""

    id: str
    project_id: int
    name: str
    path: Path  # absolute
    width: int | None
    height: int | None
    start: Path | None = None  # a mask to start from (editing a saved mask: the image is the one it was made from)


def mask_source(library: Library, product_id: str) -> MaskSource:
    """The image product `product_id` as something to paint a mask over; MaskError if it is not one.
    A mask product opens over the image it was painted on, with itself as the starting mask, so "Paint Mask…"
    on a mask edits it (the edit is saved as a new mask made from that image)."""
    with library.db.session() as session:
        product = session.get(Product, product_id)
        if product is None:
            raise MaskError(f"no product {product_id}")
        if product.media_type != "image":
            raise MaskError(f"product {product_id} is a {product.media_type}; a mask is painted over an image")
        path = library.storage.absolute(product.path)
        if not path.is_file():
            raise MaskError(f"the file of product {product_id} is missing ({path})")
        meta = product.meta if isinstance(product.meta, dict) else {}
        sources = meta.get("source_product_ids")
        if meta.get("mask") is True and isinstance(sources, list) and sources and isinstance(sources[0], str):
            under = session.get(Product, sources[0])
            under_path = library.storage.absolute(under.path) if under is not None else None
            if under is not None and under.media_type == "image" and under_path is not None and under_path.is_file():
                return MaskSource(under.id, under.project_id, under.name or under.id, under_path, under.width,
                                  under.height, start=path)
        return MaskSource(product.id, product.project_id, product.name or product.id, path, product.width,
                          product.height)


def save_mask(library: Library, source_id: str, mask: Image.Image, *, feather: float = 0.0) -> str:
    """Store `mask` (white = the area to change) as a one-channel PNG product made from `source_id`, with
    metadata {"mask": true, "source_product_ids": [source_id]} and a product_sources row, so its lineage says
    what it was made from. `feather` softens its edge (a Gaussian blur, in pixels) before it is stored.
    The same mask saved again over the same image answers the product already there. Returns the product id."""
    from PIL import ImageFilter

    source = mask_source(library, source_id)
    image = mask.convert("L")
    if feather > 0:
        image = image.filter(ImageFilter.GaussianBlur(feather))
    product_id = new_id()
    engine = library.db.engine

    def find_existing(sha256: str) -> str | None:
        with engine.connect() as conn:
            return conn.execute(select(Product.path).where(Product.project_id == source.project_id,
                                                           Product.sha256 == sha256).limit(1)).scalar()

    try:
        stored = library.storage.store_image(image, format="png", project_id=source.project_id,
                                             product_id=product_id, find_existing=find_existing,
                                             display_name=f"{source.name} mask.png")
    except (StorageError, OSError) as exc:
        raise MaskError(f"the mask over product {source_id} could not be stored: {exc}") from None
    try:
        with library.db.session() as session:
            if stored.deduplicated:
                same = session.scalars(select(Product).join(ProductSource, ProductSource.product_id == Product.id)
                                       .where(Product.sha256 == stored.sha256, ProductSource.source_id == source_id,
                                              Product.node_type == MASK_NODE_TYPE)).first()
                if same is not None:
                    return same.id
            info = stored.info
            session.add(Product(
                id=product_id, project_id=source.project_id, node_type=MASK_NODE_TYPE,
                name=sanitize_name(f"{source.name} mask"), path=stored.relative_path, sha256=stored.sha256,
                media_type=info.media_type, mime=info.mime, width=info.width, height=info.height,
                size_bytes=stored.size_bytes, prompt="", params={"feather": feather},
                meta={"mask": True, "source_product_ids": [source_id]}, provider=None,
            ))
            session.flush()  # the product row first: product_sources points at it
            session.add(ProductSource(product_id=product_id, source_id=source_id, position=0))
    except SQLAlchemyError as exc:  # e.g. a full disk: the file goes too, no mask half-saved
        if not stored.deduplicated:
            library.storage.absolute(stored.relative_path).unlink(missing_ok=True)
        raise MaskError(f"the mask over product {source_id} could not be recorded in the library: {exc}") from None
    try:
        from artfactory.services.thumbnails import ensure_thumbnails

        ensure_thumbnails(library.home, product_id, library.storage.absolute(stored.relative_path))
    except Exception:  # the product stands without a thumbnail; the gallery makes one when it shows it
        pass
    return product_id
