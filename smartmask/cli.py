"""Command line: ``python -m smartmask composite | batch | demo``.

The command line runs exactly the pipeline that the "Smart Mask (auto)" node runs, with the
same defaults, so a result can be reproduced outside ComfyUI.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from .imageio import load_image, save_image, save_mask
from .pipeline import FeatherOptions, MaskOptions, auto
from .tensors import SmartMaskError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def default_model_dirs() -> list[str]:
    """Where the command line looks for face models: ComfyUI's models folder when COMFYUI_PATH is
    set, then the user cache (where a first-use download goes)."""
    dirs = []
    if os.environ.get("COMFYUI_PATH"):
        dirs.append(str(Path(os.environ["COMFYUI_PATH"]) / "models" / "facedetection"))
    dirs.append(str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smart-mask" / "models"))
    return dirs


def add_options(p: argparse.ArgumentParser) -> None:
    m, f = MaskOptions(), FeatherOptions()
    g = p.add_argument_group("difference mask")
    g.add_argument("--threshold", type=float, default=m.threshold, help="delta E threshold; 0 = automatic (default)")
    g.add_argument("--space", choices=("lab", "rgb"), default=m.space, help="colour space of the difference")
    g.add_argument("--regions", choices=("all", "largest", "relative"), default=m.regions,
                   help="which changed regions count as the edit")
    g.add_argument("--relative", type=float, default=m.relative, help="for --regions relative: fraction of the largest")
    g.add_argument("--min-region", type=float, default=m.min_region, help="smallest region, fraction of the image area")
    g.add_argument("--no-fill-holes", action="store_true", help="keep holes inside regions")
    g.add_argument("--cleanup", type=float, default=m.cleanup, help="strength of the morphological clean-up (0 = off)")
    g.add_argument("--no-align", action="store_true", help="do not undo a global shift/scale of the edited image")
    g = p.add_argument_group("face guard")
    g.add_argument("--no-faces", action="store_true", help="do not protect faces")
    g.add_argument("--faces", choices=("auto", "always", "never"), default="auto",
                   help="auto: protect only the faces the edit kept (a changed face is taken from the edit); "
                        "always: every face; never: none")
    g.add_argument("--face-detector", choices=("auto", "yunet", "mtcnn", "none"), default="auto")
    g.add_argument("--model-dir", action="append", default=None,
                   help="folder holding face_detection_yunet_2023mar.onnx (repeatable)")
    g = p.add_argument_group("feather and composite")
    g.add_argument("--grow", type=float, default=f.grow, help="grow (+) or shrink (-), fraction of the diagonal")
    g.add_argument("--feather", type=float, default=f.feather, help="gaussian feather sigma, fraction of the diagonal")
    g.add_argument("--close", type=float, default=f.close, help="gap closing radius, fraction of the diagonal")
    g.add_argument("--no-edge-aware", action="store_true", help="plain gaussian feather, no guided filter")
    g.add_argument("--method", choices=("alpha", "multiband"), default="alpha", help="composite method")
    g.add_argument("--no-harmonize", action="store_true", help="do not match the edit's colours to the original at the seam")
    p.add_argument("--device", default="auto", help="torch device: auto (cuda when available), cpu, cuda, ...")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def options_from(a) -> dict:
    return dict(
        mask_opts=MaskOptions(threshold=a.threshold, space=a.space, regions=a.regions, relative=a.relative,
                              min_region=a.min_region, fill_holes=not a.no_fill_holes, cleanup=a.cleanup,
                              align=not a.no_align),
        feather_opts=FeatherOptions(grow=a.grow, feather=a.feather, close=a.close, edge_aware=not a.no_edge_aware),
        faces="never" if a.no_faces else a.faces, face_detector=a.face_detector,
        model_dirs=a.model_dir if a.model_dir else default_model_dirs(), method=a.method,
        harmonize=not a.no_harmonize,
    )


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def run_pair(original, edited, out, mask_out, options: dict, device) -> str:
    o = load_image(original).to(device)
    e = load_image(edited).to(device)
    res = auto(o, e, **options)
    save_image(res.image, out)
    if mask_out:
        save_mask(res.mask, mask_out)
    return res.describe()


def cmd_composite(a) -> int:
    text = run_pair(a.original, a.edited, a.output, a.mask_out, options_from(a), pick_device(a.device))
    if not a.quiet:
        print(text)
        print(f"wrote {a.output}" + (f" and {a.mask_out}" if a.mask_out else ""))
    return 0


def cmd_batch(a) -> int:
    """All pairs in one process; a failing pair is reported and the others go on."""
    options, device = options_from(a), pick_device(a.device)
    failed = total = 0
    for n, line in enumerate(Path(a.manifest).read_text().splitlines(), 1):
        if not line.strip():
            continue
        total += 1
        try:
            job = json.loads(line)
            t = time.perf_counter()
            run_pair(job["original"], job["edited"], job["out"], job.get("mask"), options, device)
            if not a.quiet:
                print(f"ok   {job.get('id', n)}  {time.perf_counter() - t:.2f}s", flush=True)
        except (SmartMaskError, OSError, KeyError, ValueError, RuntimeError) as exc:
            failed += 1
            print(f"FAIL line {n}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    if not a.quiet:
        print(f"{total - failed} of {total} pairs done")
    return 1 if failed else 0


def cmd_demo(a) -> int:
    out = Path(a.out or tempfile.mkdtemp(prefix="smart-mask-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(a.device)
    o = load_image(EXAMPLES / "original.png").to(device)
    e = load_image(EXAMPLES / "edited.png").to(device)
    res = auto(o, e, model_dirs=default_model_dirs())
    save_image(res.image, out / "result.png")
    save_mask(res.mask, out / "mask.png")
    mask_rgb = res.mask[..., None].expand(-1, -1, -1, 3)
    save_image(torch.cat([o, e, mask_rgb, res.image], dim=2), out / "side_by_side.png")
    print(res.describe())
    print("side by side: original | AI edit | mask | result")
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m smartmask", description="Keep everything an AI edit was not meant to change.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("composite", help="composite one edited image back into its original")
    c.add_argument("original")
    c.add_argument("edited")
    c.add_argument("-o", "--output", required=True, help="output PNG")
    c.add_argument("--mask-out", help="also write the final mask (8-bit PNG, white = from the edit)")
    add_options(c)
    c.set_defaults(func=cmd_composite)
    b = sub.add_parser("batch", help="many pairs from a JSON-lines manifest (original, edited, out, optional mask)")
    b.add_argument("manifest")
    add_options(b)
    b.set_defaults(func=cmd_batch)
    d = sub.add_parser("demo", help="run the bundled example and write result, mask and a side-by-side")
    d.add_argument("--out", help="output folder (default: a new temporary folder)")
    d.add_argument("--device", default="auto")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.func(a)
    except SmartMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
