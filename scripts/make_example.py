"""Build the bundled example pair ``examples/original.png`` and ``examples/edited.png``.

The source is scikit-image's astronaut photo (``skimage.data.astronaut()``, 512 x 512: NASA's
portrait of astronaut Eileen Collins, public domain). The "AI edit" is an ordinary one: the orange
flight suit recoloured to a deep green, keeping its shading and folds (the hue and chroma change in
CIELAB, lightness only scaled), with a soft 2 px edge. On top of it comes the drift that real AI
image editors add to the whole frame, which is what Smart Mask has to undo:

* mild blur followed by a re-sharpen (the editor's decoder softens and then over-sharpens detail);
* a small tone shift and a sub-pixel to 1 px warp over the face ("same" face, not the same pixels);
* a per-channel gain / offset of a few percent and a faint low-frequency lighting ramp;
* sensor-like noise;
* a global shift of about 2 px and a scale of 0.995 about the centre (re-framing);
* a JPEG round trip at quality 85.

Everything is deterministic (a fixed seed), so running it again gives the same files:

    python scripts/make_example.py            # writes examples/original.png and examples/edited.png
    python scripts/make_example.py --out DIR  # somewhere else; --mask also writes the true edit mask

The README picture ``examples/before_mask_after.png`` is composed from a demo run:

    python -m smartmask demo --out demo_output
    python scripts/make_example.py --figure demo_output   # reads result.png and mask.png there

Needs numpy, opencv, Pillow and scikit-image.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611

# A rough hand-drawn outline of the suit (x, y in the 512 x 512 photo): shoulders, arms and torso,
# with the face, the hair, the flag on the left and the shuttle model on the right left outside.
# The colour threshold inside it finds the orange cloth itself.
SUIT_POLYGON = [
    (14, 512),
    (12, 400),
    (22, 300),
    (40, 255),
    (70, 225),
    (110, 200),
    (135, 192),
    (150, 235),
    (190, 262),
    (240, 262),
    (285, 238),
    (300, 212),
    (330, 230),
    (352, 268),
    (366, 330),
    (370, 380),
    (330, 360),
    (296, 392),
    (280, 440),
    (276, 512),
]
FACE_BOX = (166, 64, 282, 186)  # x0, y0, x1, y1 of the face in the photo

TARGET_HUE_DEG = 150.0  # CIELAB hue angle of the new colour: a deep green
CHROMA_SCALE = 0.55  # new chroma relative to the orange's
LIGHTNESS_SCALE = 0.62  # darker cloth, same folds


def suit_mask(img: np.ndarray) -> np.ndarray:
    """Binary mask of the orange suit: colour threshold inside the hand-made polygon, cleaned up."""
    h, w = img.shape[:2]
    poly = Image.new("L", (w, h), 0)
    ImageDraw.Draw(poly).polygon(SUIT_POLYGON, fill=1)
    inside = np.asarray(poly, bool)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # OpenCV hue is 0..180: the suit sits at 5..11, skin at 13..15 and the flag's red at 175..180
    orange = (hue >= 3) & (hue <= 17) & (sat >= 100) & (val >= 45)
    m = (orange & inside).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    # keep the big pieces of cloth, drop specks
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros_like(m)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] >= 400:
            keep[labels == i] = 1
    # fill holes: small ones (speckles), and any of the suit's own dark red creases and seams
    # (OpenCV hue 172..180 or 0..17); the blue patches, white straps and name tag stay as they are
    reddish = ((hue >= 172) | (hue <= 17)) & (sat >= 100)
    holes = (1 - keep).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if x == 0 or y == 0 or x + bw == w or y + bh == h:
            continue
        hole = labels == i
        if area < 120 or reddish[hole].mean() > 0.6:
            keep[hole] = 1
    return keep.astype(bool)


def recolour(img: np.ndarray) -> np.ndarray:
    """The whole frame recoloured (the mask picks where it applies): hue to deep green in CIELAB,
    lightness scaled so the folds and shading stay."""
    lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b) * CHROMA_SCALE
    hue = np.deg2rad(TARGET_HUE_DEG)
    out = np.stack([L * LIGHTNESS_SCALE + 3.0, chroma * np.cos(hue), chroma * np.sin(hue)], axis=-1)
    rgb = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0, 0, 255)


def smooth_field(rng: np.random.Generator, w: int, h: int, cells: int = 3) -> np.ndarray:
    g = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return np.clip(cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC), -1, 1)


def jpeg_roundtrip(img: np.ndarray, quality: int = 85) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def ai_drift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What an AI editor does to every pixel it was not asked to change (float in, uint8 out)."""
    h, w = img.shape[:2]
    x = img.astype(np.float32)

    # 1. soften, then re-sharpen (unsharp mask)
    soft = cv2.GaussianBlur(x, (0, 0), 0.5)
    x = np.clip(soft + 0.5 * (soft - cv2.GaussianBlur(soft, (0, 0), 1.0)), 0, 255)

    # 2. the face: warmer, a touch brighter, and moved by up to about 1 px
    x0, y0, x1, y1 = FACE_BOX
    face = np.zeros((h, w), np.float32)
    cv2.ellipse(face, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1.0, -1)
    face = cv2.GaussianBlur(face, (0, 0), 8)
    tone = np.array([1.035, 1.01, 0.985], np.float32)
    x = x * (1 + (tone - 1) * face[..., None])
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    dx = smooth_field(rng, w, h, 4) * 1.1 * face
    dy = smooth_field(rng, w, h, 4) * 0.8 * face
    x = cv2.remap(x, gx + dx, gy + dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)

    # 3. colour / exposure drift: per-channel gain and offset, plus a faint lighting ramp
    gain = np.array([1.03, 0.985, 0.97], np.float32)
    offset = np.array([2.0, -1.5, 3.0], np.float32)
    ramp = 1 + 0.02 * smooth_field(rng, w, h, 3)
    x = (x * gain + offset) * ramp[..., None]

    # 4. noise
    x = x + rng.normal(0, 1.8, x.shape).astype(np.float32)

    # 5. re-framing: shift (2 px, -1.5 px) and scale 0.995 about the centre
    scale, tx, ty = 0.995, 2.0, -1.5
    cx, cy = (w - 1) / 2, (h - 1) / 2
    M = np.array([[scale, 0, cx - scale * cx + tx], [0, scale, cy - scale * cy + ty]], np.float32)
    x = cv2.warpAffine(np.clip(x, 0, 255), M, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)

    # 6. delivered as a JPEG
    return jpeg_roundtrip(x, 85)


def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(original, edited, true edit mask) as uint8 arrays."""
    rng = np.random.default_rng(SEED)
    original = np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    region = suit_mask(original)
    soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), 1.0)[..., None]  # ~2 px soft edge
    edited = original.astype(np.float32) * (1 - soft) + recolour(original) * soft
    return original, ai_drift(edited, rng), (region * 255).astype(np.uint8)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1
    except TypeError:
        return ImageFont.load_default()


def _panel(img: np.ndarray, label: str, size: int) -> Image.Image:
    """One labelled tile of the README picture."""
    tile = Image.fromarray(img).convert("RGB").resize((size, size), Image.LANCZOS)
    bar = 26
    out = Image.new("RGB", (size, size + bar), (255, 255, 255))
    out.paste(tile, (0, bar))
    ImageDraw.Draw(out).text((6, 4), label, fill=(20, 20, 20), font=_font(16))
    return out


def figure(demo_dir: Path, out_path: Path, size: int = 256) -> None:
    """Before / mask / after picture: the example pair, the mask and the result of a demo run, and
    below them what changed against the original (x4) and a close-up of the face."""
    original = np.asarray(Image.open(ROOT / "examples" / "original.png").convert("RGB"))
    edited = np.asarray(Image.open(ROOT / "examples" / "edited.png").convert("RGB"))
    result = np.asarray(Image.open(demo_dir / "result.png").convert("RGB"))
    mask = np.asarray(Image.open(demo_dir / "mask.png").convert("RGB"))

    def changed(img):
        return np.clip(np.abs(img.astype(np.int16) - original.astype(np.int16)) * 4, 0, 255).astype(np.uint8)

    x0, y0, x1, y1 = FACE_BOX
    pad = 12
    face = (slice(y0 - pad, y1 + pad), slice(x0 - pad, x1 + pad))
    rows = [
        [
            (original, "original"),
            (edited, "AI edit (drift everywhere)"),
            (mask, "Smart Mask: mask"),
            (result, "Smart Mask: result"),
        ],
        [
            (changed(edited), "AI edit vs original, x4"),
            (changed(result), "result vs original, x4"),
            (edited[face], "face in the AI edit"),
            (result[face], "face in the result"),
        ],
    ]
    gap = 6
    tiles = [[_panel(img, label, size) for img, label in row] for row in rows]
    tw, th = tiles[0][0].size
    sheet = Image.new("RGB", (4 * tw + 3 * gap, 2 * th + gap), (255, 255, 255))
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            sheet.paste(tile, (c * (tw + gap), r * (th + gap)))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path, optimize=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "examples"), help="output folder (default: examples/)")
    p.add_argument("--mask", action="store_true", help="also write true_mask.png (the edited region)")
    p.add_argument(
        "--figure",
        metavar="DEMO_DIR",
        help="instead: compose examples/before_mask_after.png from a `python -m smartmask demo` folder",
    )
    a = p.parse_args(argv)
    if a.figure:
        target = ROOT / "examples" / "before_mask_after.png"
        figure(Path(a.figure), target)
        print(f"wrote {target}")
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    original, edited, mask = build()
    Image.fromarray(original).save(out / "original.png", optimize=True)
    Image.fromarray(edited).save(out / "edited.png", optimize=True)
    written = ["original.png", "edited.png"]
    if a.mask:
        Image.fromarray(mask).save(out / "true_mask.png", optimize=True)
        written.append("true_mask.png")
    print(f"wrote {', '.join(written)} into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
