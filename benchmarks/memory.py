"""Peak memory of the command line at 2K, 4K and 8K: is it linear in the pixel count?

Run from the repository root:

    python benchmarks/memory.py                       # 1920x1080, 3840x2160, 7680x4320
    python benchmarks/memory.py --sizes 7680x4320

For each size a synthetic pair (the bundled example enlarged to that size, its edit included) is
written as PNG files, and ``python -m smartmask composite`` runs on it in a fresh process on the
CPU, face detection included, exactly as a user would run it. The peak resident memory of that
process (``ru_maxrss`` from ``wait4``) is its whole footprint: Python, torch, the decoded images,
the pipeline and the encoded result. A process that only imports the pipeline gives the fixed
part; the rest is divided by the megapixels to show the cost per megapixel. Not a test: memory
depends on the allocator and the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
SIZES = ("1920x1080", "3840x2160", "7680x4320")


def peak_mb(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(peak resident MB, seconds, exit status) of ``cmd`` run in a child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode:
        print(err, file=sys.stderr)
    return usage.ru_maxrss / 1024.0, time.perf_counter() - t, proc.returncode


def make_pair(folder: Path, w: int, h: int) -> tuple[Path, Path]:
    """The example pair enlarged (cubic) to ``w`` x ``h``, cropped to that aspect ratio first."""
    out = []
    for name in ("original", "edited"):
        img = cv2.imread(str(ROOT / "examples" / f"{name}.png"), cv2.IMREAD_COLOR)
        ih, iw = img.shape[:2]
        ch = min(ih, round(iw * h / w))
        img = img[(ih - ch) // 2 : (ih - ch) // 2 + ch]
        p = folder / f"{name}_{w}x{h}.png"
        cv2.imwrite(str(p), cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        out.append(p)
    return out[0], out[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated WIDTHxHEIGHT (default: %(default)s)")
    ap.add_argument("--model-dir", default=None, help="folder with the YuNet model (default: MTCNN, offline)")
    a = ap.parse_args()
    env = {**os.environ, "SMARTMASK_OFFLINE": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    py = sys.executable
    base, _, rc = peak_mb([py, "-c", "import smartmask.cli, smartmask.faces"], env)
    print(f"fixed part (python, torch, the pack imported): {base:.0f} MB")
    print("| size | megapixels | peak resident memory | above the fixed part | per megapixel | time |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="smartmask_memory_") as tmp:
        for size in a.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            o, e = make_pair(Path(tmp), w, h)
            cmd = [
                py,
                "-m",
                "smartmask",
                "composite",
                str(o),
                str(e),
                "-o",
                str(Path(tmp) / "out.png"),
                "-q",
                "--device",
                "cpu",
            ] + (["--model-dir", a.model_dir] if a.model_dir else [])
            mb, secs, rc = peak_mb(cmd, env)
            mp = w * h / 1e6
            flag = "" if rc == 0 else f" (exit {rc})"
            print(
                f"| {w}x{h} | {mp:.1f} | {mb / 1024:.2f} GB | {(mb - base) / 1024:.2f} GB | "
                f"{(mb - base) / mp:.0f} MB | {secs:.1f} s{flag} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
