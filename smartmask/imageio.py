"""Reading and writing image files for the command line, keeping what the original file had.

A result differs from the original only under the mask, so the file it is written to must not
lose anything else: ``read_image`` keeps the original's bit depth (8 or 16 bits per channel), its
alpha channel, ICC profile and EXIF, and ``write_image`` puts them back. Every file is written to
a temporary file in the destination folder and renamed over the destination only once complete,
so a full disk or an interruption never leaves a truncated file, and never a damaged original.

What each output format keeps (see the README's table): PNG and TIFF are lossless, 8 or 16 bits,
with alpha; PNG keeps ICC and EXIF at both depths, TIFF at 8 bits. WebP keeps 8 bits, alpha, ICC
and EXIF, and is lossless with ``lossless=True``. JPEG is lossy, 8 bits, no alpha. 16-bit
pixels are read and written through OpenCV (Pillow has no 16-bit RGB), metadata through Pillow.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .tensors import SmartMaskError

# Output formats by file extension (lower case).
FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
LOSSY = ("JPEG", "WEBP")
SIXTEEN_BIT = ("PNG", "TIFF")
WITH_ALPHA = ("PNG", "TIFF", "WEBP")
# JPEG and lossy WebP quality: high enough that the edit looks as it came from the editor; the
# pixels outside it still change by a few levels (the warning says so).
DEFAULT_QUALITY = 95
EXIF_ORIENTATION = 0x0112


@dataclass
class Picture:
    """An image file's pixels as a ComfyUI-layout tensor plus what the file had besides RGB."""

    image: torch.Tensor  # [1, H, W, 3] float32 in 0..1, upright (EXIF rotation applied)
    alpha: np.ndarray | None  # [H, W] uint8 or uint16 as stored, or None
    bits: int  # 8 or 16 bits per channel
    icc: bytes | None  # ICC profile (an RGB one; a CMYK file's profile is dropped)
    exif: bytes | None  # EXIF with the orientation reset, since the pixels are upright
    path: str
    notes: list[str] = field(default_factory=list)  # what could not be kept when reading (said on writing)


def output_format(path, what: str = "output") -> str:
    """Pillow's format name for ``path``'s extension, or a SmartMaskError listing the known ones."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise SmartMaskError(f"{what} {path}: unknown image extension {ext or '(none)'!r}; use one of {known}")
    return FORMATS[ext]


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to a pixel array (as ``ImageOps.exif_transpose`` does to an image)."""
    t = (1, 0) + tuple(range(2, a.ndim))
    return {
        2: lambda: a[:, ::-1],
        3: lambda: a[::-1, ::-1],
        4: lambda: a[::-1],
        5: lambda: a.transpose(t),
        6: lambda: np.rot90(a, -1),
        7: lambda: a.transpose(t)[::-1, ::-1],
        8: lambda: np.rot90(a, 1),
    }.get(orientation, lambda: a)()


def _is_16bit(im: Image.Image) -> bool:
    """Pillow decodes 16-bit RGB(A) PNG and TIFF to 8 bits without a word; its tile's raw mode tells."""
    if im.format not in ("PNG", "TIFF"):
        return False
    return (
        im.mode.startswith("I;16")
        or (im.format == "PNG" and im.mode == "I")
        or any("16" in str(t[3]) for t in (im.tile or ()))
    )


def _open_error(path, exc: Exception) -> SmartMaskError:
    if isinstance(exc, FileNotFoundError):
        return SmartMaskError(f"{path}: file not found")
    if isinstance(exc, IsADirectoryError):
        return SmartMaskError(f"{path}: is a folder, not an image file")
    if isinstance(exc, PermissionError):
        return SmartMaskError(f"{path}: cannot read the file (permission denied)")
    if isinstance(exc, UnidentifiedImageError):
        return SmartMaskError(f"{path}: not an image (or a format Pillow cannot read); use PNG, TIFF, JPEG or WebP")
    if isinstance(exc, Image.DecompressionBombError):
        return SmartMaskError(f"{path}: {exc}")
    return SmartMaskError(f"{path}: the image is damaged or truncated ({exc})")


def read_image(path) -> Picture:
    """Read an image file: pixels upright as ``[1, H, W, 3]`` float 0..1, plus alpha, depth and metadata.

    Grey images are expanded to RGB; palette images are expanded to RGB(A). A damaged, truncated or
    unreadable file is a SmartMaskError naming the file.
    """
    try:
        with Image.open(path) as im:
            sixteen = _is_16bit(im)
            im.load()  # decode now: a truncated file fails here, not halfway through the work
            exif = im.getexif()
            orientation = int(exif.get(EXIF_ORIENTATION, 1) or 1)
            icc = im.info.get("icc_profile") or None
            if im.mode == "CMYK":
                icc = None  # the profile describes CMYK, not the RGB pixels written back
            if sixteen:
                arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                if arr is None or arr.dtype != np.uint16:
                    raise OSError("OpenCV cannot decode its 16-bit pixels")
                rgb, alpha = _split_cv(arr)
                rgb, alpha = _orient(rgb, orientation), None if alpha is None else _orient(alpha, orientation)
                scale = 65535.0
            else:
                im = ImageOps.exif_transpose(im)
                has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
                a = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
                rgb, alpha = a[..., :3], (a[..., 3].copy() if has_alpha else None)
                scale = 255.0
    except SmartMaskError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _open_error(path, exc) from exc
    notes = []
    try:
        if orientation != 1 and EXIF_ORIENTATION in exif:
            del exif[EXIF_ORIENTATION]
        exif_bytes = exif.tobytes() if len(exif) else None
    except Exception as exc:  # a malformed maker note: the pixels matter more than the tags  # noqa: BLE001
        exif_bytes = None
        notes.append(f"the original's EXIF could not be rewritten ({type(exc).__name__}: {exc}); it is dropped")
    image = torch.from_numpy(np.ascontiguousarray(rgb).astype(np.float32) / scale)[None]
    return Picture(
        image,
        None if alpha is None else np.ascontiguousarray(alpha),
        16 if sixteen else 8,
        icc,
        exif_bytes,
        str(path),
        notes,
    )


def _split_cv(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """OpenCV's BGR(A) or grey array -> (RGB, alpha or None)."""
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, -1), None
    if arr.shape[2] == 2:  # grey + alpha
        return np.repeat(arr[..., :1], 3, -1), arr[..., 1]
    rgb = arr[..., 2::-1]
    return rgb, (arr[..., 3] if arr.shape[2] == 4 else None)


def load_image(path) -> torch.Tensor:
    """Image file -> ``[1, H, W, 3]`` float 0..1 (EXIF rotation applied, alpha dropped, gray expanded)."""
    return read_image(path).image


def _quantize(t: torch.Tensor, bits: int) -> np.ndarray:
    """Float 0..1 -> uint8/uint16 by rounding: values read from a file of that depth come back exactly."""
    top = 65535.0 if bits == 16 else 255.0
    a = t.detach().float().cpu().clamp(0, 1).numpy() * top + 0.5
    return a.astype(np.uint16 if bits == 16 else np.uint8)


def _alpha_at(alpha: np.ndarray, bits: int) -> np.ndarray:
    """The original's alpha at the output's depth (exact when the depth is the same)."""
    if alpha.dtype == np.uint16 and bits == 8:
        return ((alpha.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if alpha.dtype == np.uint8 and bits == 16:
        return alpha.astype(np.uint16) * 257
    return alpha


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """``png`` (OpenCV's encoding, which writes no metadata) with iCCP and eXIf chunks after IHDR."""
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:end_of_ihdr] + extra + png[end_of_ihdr:]


def format_warnings(path, like: Picture | None, lossless: bool = False, quality: int = DEFAULT_QUALITY) -> list[str]:
    """What writing a result like ``like`` to ``path`` loses, one line each (empty when nothing is lost)."""
    fmt = output_format(path)
    out = []
    if fmt == "JPEG" or (fmt == "WEBP" and not lossless):
        name = "JPEG" if fmt == "JPEG" else "lossy WebP"
        out.append(
            f"{name} (quality {quality}): pixels outside the edit are no longer bit-exact; for exact "
            "pixels write .png, .tif" + ("" if fmt == "JPEG" else " or use --lossless")
        )
    if like is None:
        return out
    out += like.notes
    if like.bits == 16 and fmt not in SIXTEEN_BIT:
        out.append(f"{fmt} has 8 bits per channel: the 16-bit original is written with 8; write .png or .tif for 16")
    if like.alpha is not None and fmt not in WITH_ALPHA:
        out.append(f"{fmt} has no alpha channel: the original's transparency is dropped; write .png, .tif or .webp")
    if like.bits == 16 and fmt == "TIFF" and (like.icc or like.exif):
        out.append("a 16-bit TIFF is written without the ICC profile and EXIF; write .png to keep them at 16 bits")
    return out


def _encode(
    fmt: str, pixels: np.ndarray, bits: int, icc: bytes | None, exif: bytes | None, quality: int, lossless: bool
) -> bytes | Image.Image:
    """The file's bytes (16-bit, through OpenCV) or a Pillow image to save (8-bit)."""
    if bits == 16:
        bgr = pixels[..., [2, 1, 0, 3]] if pixels.shape[2] == 4 else pixels[..., ::-1]
        ok, buf = cv2.imencode(".png" if fmt == "PNG" else ".tif", np.ascontiguousarray(bgr))
        if not ok:
            raise OSError(f"OpenCV could not encode a 16-bit {fmt}")
        return _png_with_metadata(buf.tobytes(), icc, exif) if fmt == "PNG" else buf.tobytes()
    return Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")


def _save_params(fmt: str, icc, exif, quality: int, lossless: bool) -> dict:
    p: dict = {}
    if icc:
        p["icc_profile"] = icc
    if exif:
        p["exif"] = exif
    if fmt == "JPEG":
        p.update(quality=quality, subsampling=0)  # 4:4:4: no colour bleeding at the edit's edges
    elif fmt == "WEBP":
        # exact: keep the RGB under transparent pixels (WebP would otherwise rewrite it)
        p.update(lossless=True, quality=100, exact=True) if lossless else p.update(quality=quality, exact=True)
    elif fmt == "TIFF" and not exif:
        # LZW goes through libtiff, which cannot write EXIF's sub-IFDs (capture date, exposure):
        # with EXIF the TIFF is written uncompressed by Pillow's own writer, which can
        p["compression"] = "tiff_lzw"
    elif fmt == "PNG":
        p["compress_level"] = 6
    return p


def write_image(
    path, image: torch.Tensor, like: Picture | None = None, quality: int = DEFAULT_QUALITY, lossless: bool = False
) -> list[str]:
    """Write ``image`` (``[H, W, 3]`` or ``[1, H, W, 3]``) to ``path`` with ``like``'s depth, alpha, ICC
    and EXIF, atomically; return the warnings of ``format_warnings`` (what this format lost)."""
    fmt = output_format(path)
    warnings = format_warnings(path, like, lossless, quality)
    if image.ndim == 4:
        image = image[0]
    bits = like.bits if like is not None and fmt in SIXTEEN_BIT else 8
    pixels = _quantize(image, bits)
    alpha = like.alpha if like is not None and fmt in WITH_ALPHA else None
    if alpha is not None:
        if alpha.shape != pixels.shape[:2]:
            raise SmartMaskError(
                f"{path}: the original's alpha is {alpha.shape[1]}x{alpha.shape[0]} but the "
                f"result is {pixels.shape[1]}x{pixels.shape[0]}"
            )
        pixels = np.dstack([pixels, _alpha_at(alpha, bits)])
    icc = like.icc if like is not None else None
    exif = like.exif if like is not None else None
    encoded = _encode(fmt, pixels, bits, icc, exif, quality, lossless)
    if isinstance(encoded, bytes):
        atomic_write(path, lambda f: f.write(encoded))
    else:
        atomic_write(path, lambda f: encoded.save(f, format=fmt, **_save_params(fmt, icc, exif, quality, lossless)))
    return warnings


def write_mask(path, m: torch.Tensor, quality: int = DEFAULT_QUALITY, lossless: bool = False) -> list[str]:
    """Write ``[H, W]`` or ``[1, H, W]`` as an 8-bit grey image (white = taken from the edit), atomically."""
    fmt = output_format(path, "mask output")
    if m.ndim == 3:
        m = m[0]
    im = Image.fromarray(_quantize(m, 8), mode="L")
    atomic_write(path, lambda f: im.save(f, format=fmt, **_save_params(fmt, None, None, quality, lossless)))
    return format_warnings(path, None, lossless, quality)


def save_image(t: torch.Tensor, path) -> None:
    """Save ``[H, W, 3]`` or ``[1, H, W, 3]`` as an 8-bit file in the format its extension names."""
    write_image(path, t)


def save_mask(m: torch.Tensor, path) -> None:
    """Save ``[H, W]`` or ``[1, H, W]`` as an 8-bit grayscale image (white = taken from the edited image)."""
    write_mask(path, m)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write) -> None:
    """Create ``path`` by ``write(file)`` into a temporary file in the same folder, flushed to disk and
    then renamed over ``path``: readers see the old file or the complete new one, never a part.

    An existing destination keeps its permission bits; a new one gets the usual ones (umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
