"""Checking, resizing and transforming fetched images for export (fetching is
``curation.export.fetch``'s): a pixel limit read from the header before any decoding (so a
decompression bomb is refused, not decoded), optional resizing, and image hooks such as face
blurring or a user's filter, whose decisions are recorded per sample.
"""

import io
from dataclasses import dataclass, field

# The formats open_clip's WebDataset loader reads (``jpg;png;jpeg;webp``): an image in any
# other (GIF, BMP, TIFF, ICO, TGA, PCX, PPM, ...) is written as PNG, or the loader would skip
# it and training would see fewer samples than sizes.json announces. MPO is multi-picture JPEG.
FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
_PNG_MODES = {"1", "L", "LA", "I", "P", "RGB", "RGBA"}
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class ResizeOptions:
    size: int | None = None  # None: keep the source bytes
    mode: str = "longest"  # or "shortest": which side becomes ``size``
    quality: int = 95


@dataclass
class Prepared:
    data: bytes | None
    ext: str
    width: int | None
    height: int | None
    status: str  # ok, decode_error, image_too_large, filtered
    error: str = ""
    info: dict = field(default_factory=dict)  # what hooks recorded (e.g. face_bboxes)


def prepare(data: bytes, opts: ResizeOptions, max_pixels: int = DEFAULT_MAX_PIXELS, hooks=(),
            row: dict | None = None) -> Prepared:
    """Decode (so a broken image is caught here), refuse more than ``max_pixels``, resize,
    then run each hook ``hook(image, row) -> (image, info, drop_reason)``. The source bytes
    are kept when nothing changed the image; else it is encoded as JPEG (resized, or a JPEG
    source) or PNG."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                return Prepared(None, "", img.width, img.height, "image_too_large",
                                f"{img.width} x {img.height} pixels > {max_pixels}")
            img.load()
            fmt = img.format
            out = _resize(img, opts, max_pixels) if opts.size is not None else img
            info: dict = {}
            for hook in hooks:
                out, extra, reason = hook(out, row)
                info.update(extra or {})
                if reason:
                    return Prepared(None, "", img.width, img.height, "filtered", str(reason), info)
            if out is img and fmt in FORMATS:
                return Prepared(data, FORMATS[fmt], img.width, img.height, "ok", info=info)
            if fmt not in FORMATS:
                info["converted_from"] = fmt
            as_jpeg = opts.size is not None or fmt in ("JPEG", "MPO")
            buf = io.BytesIO()
            if as_jpeg:
                out.convert("RGB").save(buf, format="JPEG", quality=opts.quality)
            else:
                (out if out.mode in _PNG_MODES else out.convert("RGBA" if "A" in out.mode else "RGB")).save(
                    buf, format="PNG")
            return Prepared(buf.getvalue(), "jpg" if as_jpeg else "png", out.width, out.height, "ok", info=info)
    except Image.DecompressionBombError as exc:  # PIL's own limit, hit while opening the header
        return Prepared(None, "", None, None, "image_too_large", str(exc))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return Prepared(None, "", None, None, "decode_error", f"{type(exc).__name__}: {exc}")


def user_hook(spec: str):
    """The image filter named ``module:function``: ``function(image, row)`` returns None to
    keep the sample, or a reason (string) to drop it; wrapped as an image hook."""
    import importlib

    from curation.core.errors import InputError

    module, _, name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(f"--image-filter {spec!r}: cannot load it ({type(exc).__name__}: {exc}); "
                         "give module:function") from None
    if not callable(function):
        raise InputError(f"--image-filter {spec!r}: not a function")

    def hook(image, row):
        try:
            reason = function(image, row)
        except Exception as exc:  # noqa: BLE001 - the filter's failure on one image drops that sample, recorded
            reason = f"image filter failed: {type(exc).__name__}: {exc}"
        return image, {}, reason

    return hook


def _resize(img, opts: ResizeOptions, max_pixels: int = DEFAULT_MAX_PIXELS):
    """To ``opts.size`` on the chosen side, but never past ``max_pixels`` (a 1x1 image is not
    blown up to 12,000 x 12,000)."""
    side = max(img.width, img.height) if opts.mode == "longest" else min(img.width, img.height)
    scale = opts.size / side
    scale = min(scale, (max_pixels / (img.width * img.height)) ** 0.5)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, resample=3)  # bicubic
