"""Speed and memory benchmark of every node's core and of the full default pipeline.

Run from the repository root:

    python benchmarks/speed.py                  # full run: CPU, and CUDA when present (~10 min on 2 cores)
    python benchmarks/speed.py --quick          # 1024x1024 and 2108x2788 only, fewer repeats
    python benchmarks/speed.py --device cpu --sizes 2108x2788,81x832x480

Sizes are ``WIDTHxHEIGHT`` for one image and ``FRAMESxWIDTHxHEIGHT`` for a video batch.

Inputs are a realistic synthetic pair built from scikit-image's astronaut photo (public domain):
upscaled to the target size with fine grain, then an "AI edit" that recolours the orange flight
suit, plus the drift an editor adds everywhere (blur + re-sharpen, per-channel gain/offset, a
lighting ramp, noise, a global shift and scale, a JPEG round trip), so that alignment, drift
compensation and the automatic thresholds all do real work. The video batch is a slow pan over
the same photo, every frame edited and drifted independently.

Cases (each in its own subprocess, so peak memory is that case's own):

    difference   pipeline.difference_mask (Difference Mask node: alignment + drift-aware mask + heat-map)
    face_guard   faces.guard_faces on the difference mask (Face Guard node: detection + soft ellipses)
    feather      pipeline.feather_mask on the face-guarded mask (Feather node, edge-aware)
    composite    pipeline.composite with the final soft mask (Composite node, alpha)
    preview      preview.overlay of the final soft mask (Mask Preview node)
    auto         pipeline.auto: the full default pipeline (Smart Mask (auto) node)
    seed         the seed reference algorithm, numpy/scipy, written below (CPU only)
    bare         a bare alpha composite ``O + (E - O) * m`` of the same tensors: the memory-bandwidth floor

Times are medians over the repeats, after one untimed first run (which also loads the face model
and measures memory); a case whose first run is slower than ``--budget`` seconds gets fewer
repeats, or is timed by that first run alone (flagged ``*``), so a slow pipeline cannot make a
full run take hours. A "cpu" column gives the process CPU time too: on a machine shared with
other work it moves less than wall-clock time. Peak memory is what the case adds on top of its inputs: on the CPU the rise
of the process's peak resident set (``VmHWM``, reset just before the case, or ``ru_maxrss``),
on CUDA ``torch.cuda.max_memory_allocated``.

The last line is ``SPEEDUP_VS_SEED=<seed / auto> RATIO_TO_COMPOSITE=<auto / bare>`` for the
2108x2788 CPU case.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FULL_SIZES = "1024x1024,2108x2788,4096x4096,81x832x480"
QUICK_SIZES = "1024x1024,2108x2788"
NODE_CASES = ("difference", "face_guard", "feather", "composite", "preview")
CASES = ("auto",) + NODE_CASES + ("seed", "bare")
KEY_SIZE = (1, 2108, 2788)


# --------------------------------------------------------------------------------------------
# The seed reference algorithm (same as the evaluation's seed_ref.py, at its defaults)
# --------------------------------------------------------------------------------------------


def seed_mask(O, E, threshold=10.0, focus=True, min_region=0.03, erode=2, dilate=3, feather=30.0):
    """Soft mask in [0, 1] (float64, HxW) from the original O and edited E (uint8 or float 0..255)."""
    from scipy import ndimage as ndi

    diff = np.abs(O.astype(np.float32) - E.astype(np.float32)).mean(axis=2) / 255.0 * 100.0
    mask = diff > threshold
    lab, n = ndi.label(mask)
    if n:
        sizes = ndi.sum(mask, lab, index=np.arange(1, n + 1))
        big = sizes >= min_region * mask.size
        if focus:
            keep = [int(np.argmax(sizes)) + 1] if big[int(np.argmax(sizes))] else []
        else:
            keep = list(np.nonzero(big)[0] + 1)
        mask = np.isin(lab, keep)
    if erode >= 1:
        mask = ndi.binary_erosion(mask, iterations=int(erode))
    mask = ndi.binary_fill_holes(mask)
    if dilate >= 1:
        mask = ndi.binary_dilation(mask, iterations=int(dilate))
    m = mask.astype(np.float64)
    return ndi.gaussian_filter(m, sigma=feather) if feather > 0 else m


def seed_composite(O, E):
    """The seed's full output for one frame: ``O * (1 - m) + E * m`` (float64, as the reference does)."""
    m = seed_mask(O, E)[..., None]
    return O.astype(np.float64) * (1 - m) + E.astype(np.float64) * m


# --------------------------------------------------------------------------------------------
# Synthetic input pairs
# --------------------------------------------------------------------------------------------


def _hue_rotation(deg: float) -> np.ndarray:
    """3x3 RGB matrix rotating hue by ``deg`` about the grey axis (keeps luminance roughly)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    k = 1.0 / 3.0
    r = math.sqrt(k)
    return np.array(
        [
            [c + (1 - c) * k, k * (1 - c) - r * s, k * (1 - c) + r * s],
            [k * (1 - c) + r * s, c + k * (1 - c), k * (1 - c) - r * s],
            [k * (1 - c) - r * s, k * (1 - c) + r * s, c + k * (1 - c)],
        ],
        np.float32,
    )


def _suit_mask(src: np.ndarray) -> np.ndarray:
    """The astronaut's orange flight suit (float 0..1 at the source's 512x512 resolution)."""
    import cv2

    hsv = cv2.cvtColor(src, cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0].astype(int), hsv[..., 1], hsv[..., 2]
    m = (h >= 4) & (h <= 20) & (s > 90) & (v > 60)
    m[:185] = False
    m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n > 1:
        m = (lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    return m.astype(np.float32)


def _frame_pair(src: np.ndarray, suit: np.ndarray, window, w: int, h: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(original, edited) uint8 ``[h, w, 3]`` for one source window (x0, y0, x1, y1) in source pixels."""
    import cv2

    x0, y0, x1, y1 = window
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    affine = np.array([[sx, 0, -x0 * sx + 0.5 * sx - 0.5], [0, sy, -y0 * sy + 0.5 * sy - 0.5]], np.float32)
    O = cv2.warpAffine(src.astype(np.float32), affine, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    R = cv2.warpAffine(suit, affine, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    px = max(w, h) / 1024.0
    grain = cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32), (0, 0), 0.5) * 3.0
    O = np.clip(O + grain[..., None], 0, 255)
    O = np.rint(O)
    # the intended edit: orange suit -> teal, crisp edge (a couple of pixels)
    alpha = cv2.GaussianBlur(R, (0, 0), 1.5 * px)[..., None]
    new = np.clip(cv2.transform(O, _hue_rotation(150.0)), 0, 255) * 0.9
    E = O + (new - O) * alpha
    # drift everywhere: softness + re-sharpening, colour gain/offset, lighting ramp, noise
    blur = 0.6 * px
    E = cv2.GaussianBlur(E, (0, 0), blur)
    E = E + 0.6 * (E - cv2.GaussianBlur(E, (0, 0), 2 * blur))
    E = E * rng.uniform(0.97, 1.04, 3).astype(np.float32) + rng.uniform(-4, 4, 3).astype(np.float32)
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    E = E * (1 + 0.03 * (0.7 * gx + 0.3 * gy))[..., None]
    E = E + 2.0 * rng.standard_normal(E.shape, dtype=np.float32)
    # a global similarity transform about the centre (editors shift and scale by a few pixels)
    s = rng.uniform(0.997, 1.003)
    ang = rng.uniform(0, 2 * math.pi)
    tx, ty = 1.5 * px * math.cos(ang), 1.5 * px * math.sin(ang)
    M = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], np.float32)
    E = cv2.warpAffine(E, M, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    ok, buf = cv2.imencode(".jpg", np.clip(E, 0, 255).astype(np.uint8)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
    E = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return O.astype(np.uint8), np.ascontiguousarray(E)


def make_pair(frames: int, w: int, h: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Original and edited uint8 ``[frames, h, w, 3]``: a still photo, or a slow pan for a batch."""
    from skimage import data

    rng = np.random.default_rng(seed)
    src = data.astronaut()
    suit = _suit_mask(src)
    sh, sw = src.shape[:2]
    # crop the source to the target's aspect ratio around the upper body
    aspect = w / h
    if aspect >= 1:
        cw, ch = float(sw), sw / aspect
    else:
        cw, ch = sh * aspect, float(sh)
    cw, ch = min(cw, sw), min(ch, sh)
    pan = 0.1 * cw if frames > 1 else 0.0
    cw -= pan
    ch = cw / aspect
    y0 = max(0.0, min(sh - ch, 0.12 * sh))
    O = np.empty((frames, h, w, 3), np.uint8)
    E = np.empty((frames, h, w, 3), np.uint8)
    for i in range(frames):
        x0 = (sw - cw - pan) / 2 + pan * (i / max(frames - 1, 1))
        O[i], E[i] = _frame_pair(src, suit, (x0, y0, x0 + cw, y0 + ch), w, h, rng)
    return O, E


# --------------------------------------------------------------------------------------------
# One case, in a child process
# --------------------------------------------------------------------------------------------


def _rss_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class CpuPeak:
    """Peak resident memory added by a block, in MB.

    Linux lets a process reset its high-water mark (``/proc/self/clear_refs``, value 5); elsewhere
    the rise of ``ru_maxrss`` is used, which only sees a peak above every earlier one.
    """

    def __enter__(self):
        gc.collect()
        self.reset = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.reset = _rss_kb("VmHWM") is not None
        except OSError:
            pass
        self.start = _rss_kb("VmRSS") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc):
        end = _rss_kb("VmHWM") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin" and not self.reset:
            end, self.start = end // 1024, self.start // 1024
        self.mb = max(0, end - self.start) / 1024.0


class CudaPeak:
    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        gc.collect()
        self.torch.cuda.synchronize()
        self.torch.cuda.reset_peak_memory_stats()
        self.start = self.torch.cuda.memory_allocated()
        return self

    def __exit__(self, *exc):
        self.torch.cuda.synchronize()
        self.mb = max(0, self.torch.cuda.max_memory_allocated() - self.start) / 2**20


def _load(data: Path, name: str):
    return np.load(data / f"{name}.npy")


def run_child(args) -> None:
    """Run one case: a first run that measures memory (and warms up), then timed repeats; print JSON."""
    sys.path.insert(0, str(ROOT))
    import torch

    data = Path(args.data)
    dev = torch.device(args.device)
    case = args.child
    model_dirs = [d for d in args.model_dir if d]
    result = {"case": case, "device": args.device}

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def tensor(name):
        return torch.from_numpy(_load(data, name)).to(dev)

    if case == "seed":
        # the reference works on uint8 pictures; convert outside the timed part
        o8 = np.rint(_load(data, "original") * 255).astype(np.uint8)
        e8 = np.rint(_load(data, "edited") * 255).astype(np.uint8)

        def fn():
            return [seed_composite(o8[i], e8[i]) for i in range(o8.shape[0])]
    else:
        from smartmask import pipeline
        from smartmask.faces import guard_faces
        from smartmask.visualize import overlay

        if case == "auto":
            o, e = tensor("original"), tensor("edited")

            def fn():
                return pipeline.auto(o, e, model_dirs=model_dirs)
        elif case == "difference":
            o, e = tensor("original"), tensor("edited")

            def fn():
                return pipeline.difference_mask(o, e)
        elif case == "face_guard":
            o, m = tensor("original"), tensor("diff_mask")

            def fn():
                return guard_faces(o, m, None, detector="auto", model_dirs=model_dirs)
        elif case == "feather":
            o, m = tensor("original"), tensor("guarded_mask")

            def fn():
                return pipeline.feather_mask(m, o)
        elif case == "composite":
            o, e, m = tensor("original"), tensor("aligned"), tensor("soft_mask")

            def fn():
                return pipeline.composite(o, e, m)
        elif case == "preview":
            o, m = tensor("original"), tensor("soft_mask")

            def fn():
                return overlay(o, m)
        elif case == "bare":
            o, e, m = tensor("original"), tensor("aligned"), tensor("soft_mask")

            def fn():
                return o + (e - o) * m.unsqueeze(-1)
        else:
            raise SystemExit(f"unknown case {case}")

    peak = CudaPeak(torch) if dev.type == "cuda" else CpuPeak()
    with peak:
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        sync()
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    result["peak_mb"] = peak.mb
    result["first_s"] = first
    if case == "auto":
        # the other cases start from this run's intermediate results
        d = out.diff
        np.save(data / "diff_mask.npy", d.mask.cpu().numpy())
        np.save(data / "aligned.npy", d.aligned.cpu().numpy())
        np.save(data / "guarded_mask.npy", (d.mask * (1 - out.faces)).cpu().numpy())
        np.save(data / "soft_mask.npy", out.mask.cpu().numpy())
        result["note"] = out.describe().splitlines()[-1] + "; " + d.describe().splitlines()[0]
    del out
    # slow cases get fewer repeats so a full run stays within minutes; a case slower than the
    # budget is timed by its first run alone (then reported with n = 1 and flagged)
    repeats = min(args.repeats, int(args.budget // max(first, 1e-3)))
    times, cpu = [], []
    for _ in range(repeats):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if not times:
        times, cpu = [first], [first_cpu]
        result["first_run_only"] = True
    result["times"] = times
    result["cpu_times"] = cpu
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def parse_size(s: str) -> tuple[int, int, int]:
    parts = [int(p) for p in s.lower().split("x")]
    if len(parts) == 2:
        return (1, parts[0], parts[1])
    if len(parts) == 3:
        return tuple(parts)  # type: ignore[return-value]
    raise argparse.ArgumentTypeError(f"bad size {s!r}: use WIDTHxHEIGHT or FRAMESxWIDTHxHEIGHT")


def size_label(size) -> str:
    n, w, h = size
    return f"{w}x{h}" if n == 1 else f"{n}x{w}x{h}"


def repeats_for(size, quick: bool) -> int:
    n, w, h = size
    px = n * w * h
    if tuple(size) == KEY_SIZE:
        r = 15  # the size of the last line's ratios: on a shared machine a few runs in 7 were slow bursts
    elif px <= 1.5e6:
        r = 5
    elif px <= 7e6:
        r = 3
    else:
        r = 2
    return max(1, r - 1) if quick else r


def default_model_dirs() -> list[str]:
    """Where the YuNet face model may be: a 'shared/models' folder beside the checkout, ./models."""
    out = []
    for d in (ROOT.parent / "shared" / "models", ROOT / "models"):
        if d.is_dir():
            out.append(str(d))
    return out


def run_case(case, size, device, data: Path, repeats: int, model_dirs, timeout: float, budget: float):
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        case,
        "--data",
        str(data),
        "--device",
        device,
        "--repeats",
        str(repeats),
        "--budget",
        str(budget),
    ]
    for d in model_dirs:
        cmd += ["--model-dir", d]
    env = dict(os.environ, SMARTMASK_OFFLINE="1")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"case": case, "device": device, "error": f"timed out after {timeout:.0f} s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"case": case, "device": device, "error": " | ".join(tail) or f"exit {p.returncode}"}


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.0f}" if s >= 0.1 else f"{s * 1000:.1f}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} only and fewer repeats")
    ap.add_argument("--device", default="all", help="cpu, cuda, or all (cpu, plus cuda when present; default)")
    ap.add_argument("--sizes", help=f"comma-separated WxH or NxWxH (default {FULL_SIZES})")
    ap.add_argument("--cases", help=f"comma-separated subset of {','.join(CASES)} (auto always runs first)")
    ap.add_argument(
        "--repeats", type=int, help="timed repeats per case (default 15 at 2108x2788, else 5 / 3 / 2 by size)"
    )
    ap.add_argument(
        "--model-dir",
        action="append",
        default=None,
        help="folder holding face_detection_yunet_2023mar.onnx (repeatable; default: ../shared/models, ./models)",
    )
    ap.add_argument("--json", help="also write all results to this JSON file")
    ap.add_argument(
        "--budget",
        type=float,
        default=40,
        help="seconds of timed repeats per case (fewer repeats for slow cases; default 40)",
    )
    ap.add_argument("--timeout", type=float, default=900, help="seconds per case before it is abandoned")
    # internal: one case in a child process
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        args.model_dir = args.model_dir or []
        args.repeats = args.repeats if args.repeats is not None else 1
        run_child(args)
        return

    import torch

    sizes = [parse_size(s) for s in (args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)).split(",") if s]
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [d.strip() for d in args.device.split(",")]
    for d in devices:
        if d.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device is available")
    cases = list(CASES)
    if args.cases:
        wanted = {c.strip() for c in args.cases.split(",")}
        unknown = wanted - set(CASES)
        if unknown:
            raise SystemExit(f"unknown cases {sorted(unknown)}; choose from {', '.join(CASES)}")
        cases = [c for c in CASES if c in wanted or c == "auto"]
    model_dirs = args.model_dir if args.model_dir is not None else default_model_dirs()

    print(
        f"# python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPU cores, "
        f"torch threads {torch.get_num_threads()}"
        + (f", CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no CUDA device")
    )
    print(f"# face model folders: {', '.join(model_dirs) or 'none (MTCNN fallback)'}")
    print(f"# command: python benchmarks/speed.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="smartmask_speed_"))
    t_start = time.perf_counter()
    try:
        for size in sizes:
            n, w, h = size
            t0 = time.perf_counter()
            O, E = make_pair(n, w, h)
            gen_s = time.perf_counter() - t0
            data = tmp / size_label(size)
            data.mkdir()
            np.save(data / "original.npy", O.astype(np.float32) / np.float32(255))
            np.save(data / "edited.npy", E.astype(np.float32) / np.float32(255))
            input_mb = 2 * O.size * 4 / 2**20
            del O, E
            print(
                f"# {size_label(size)}: inputs {input_mb:.0f} MB (two float32 tensors), generated in {gen_s:.1f} s",
                flush=True,
            )
            reps = args.repeats if args.repeats is not None else repeats_for(size, args.quick)
            for device in devices:
                for case in cases:
                    if case == "seed" and not device.startswith("cpu"):
                        continue
                    r = run_case(case, size, device, data, reps, model_dirs, args.timeout, args.budget)
                    r["size"] = size_label(size)
                    r["frames"] = n
                    if r.get("times"):
                        r["median_s"] = statistics.median(r["times"])
                        r["min_s"] = min(r["times"])
                        r["cpu_s"] = statistics.median(r["cpu_times"])
                    results.append(r)
                    msg = r.get("error") or (f"median {fmt_ms(r['median_s'])} ms, peak +{r['peak_mb']:.0f} MB")
                    print(f"#   {device:5s} {case:11s} {msg}", flush=True)
                    if r.get("note"):
                        print(f"#         {r['note']}", flush=True)
            shutil.rmtree(data, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def get(size, device, case):
        for r in results:
            if r["size"] == size and r["device"] == device and r["case"] == case and "median_s" in r:
                return r
        return None

    print()
    print(
        f"{'size':>12} {'device':>6} {'case':>11} {'median ms':>10} {'min ms':>9} {'cpu ms':>9} {'ms/frame':>9} {'n':>3} {'peak MB':>8}"
    )
    for r in results:
        if "median_s" not in r:
            print(f"{r['size']:>12} {r['device']:>6} {r['case']:>11}  error: {r.get('error')}")
            continue
        per_frame = r["median_s"] / r["frames"]
        n = f"{len(r['times'])}{'*' if r.get('first_run_only') else ''}"
        print(
            f"{r['size']:>12} {r['device']:>6} {r['case']:>11} {fmt_ms(r['median_s']):>10} {fmt_ms(r['min_s']):>9} "
            f"{fmt_ms(r['cpu_s']):>9} {fmt_ms(per_frame):>9} {n:>3} {r['peak_mb']:>8.0f}"
        )
    if any(r.get("first_run_only") for r in results):
        print("(* timed by the untimed-warm-up run alone: slower than --budget)")
    print(
        "(median/min: wall-clock; cpu: process CPU time summed over threads; peak: memory added on top of the inputs)"
    )
    print()
    print(f"{'size':>12} {'device':>6} {'seed/auto':>10} {'auto/bare':>10}")
    for size in sizes:
        for device in devices:
            a, s, b = (
                get(size_label(size), device, "auto"),
                get(size_label(size), "cpu", "seed"),
                get(size_label(size), device, "bare"),
            )
            sp = f"{s['median_s'] / a['median_s']:.2f}" if a and s else "-"
            rb = f"{a['median_s'] / b['median_s']:.1f}" if a and b else "-"
            print(f"{size_label(size):>12} {device:>6} {sp:>10} {rb:>10}")
    print(f"# total {time.perf_counter() - t_start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))

    key = size_label(KEY_SIZE)
    a, s, b = get(key, "cpu", "auto"), get(key, "cpu", "seed"), get(key, "cpu", "bare")
    x = f"{s['median_s'] / a['median_s']:.2f}" if a and s else "nan"
    y = f"{a['median_s'] / b['median_s']:.2f}" if a and b else "nan"
    print(f"SPEEDUP_VS_SEED={x} RATIO_TO_COMPOSITE={y}")


if __name__ == "__main__":
    main()
