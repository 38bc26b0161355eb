"""Mutation check: named, deliberate bugs that the test suite must catch.

Each mutant replaces one snippet of the pack's code with a bug a user would notice (a face no
longer protected, every frame given frame 0's mask, a blur twice as wide, ...), in a temporary
copy of the repository, and runs the few tests meant to catch it. A mutant is *killed* when
those tests fail; the check fails when one survives, and also when a mutant's snippet is no
longer in the code (the code moved: update the snippet here, do not drop the mutant).

``SURVIVORS`` lists mutants the suite is known not to catch, and why (they change speed or a
preview, not a result); ``--survivors`` runs them too, to confirm that they still survive.

    .venv/bin/python scripts/mutation_check.py            # every mutant, about 2 to 4 minutes
    .venv/bin/python scripts/mutation_check.py -k blur    # the mutants whose name contains "blur"
    .venv/bin/python scripts/mutation_check.py --list

Run by ``tests/test_mutation_check.py`` (so by CI). The copy lives in a temporary folder whose
name is a valid Python identifier: pytest imports the pack's root ``__init__.py`` as a package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a copy needs to run the in-process tests (the server tests also use .venv and .cache,
# which are linked, not copied).
COPIED = ("__init__.py", "pyproject.toml", "smartmask", "nodes", "tests", "examples", "example_workflows", "js")
LINKED = (".venv", ".cache")
UB = "tests/test_user_behaviour.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    bug: str
    more: tuple[tuple[str, str, str], ...] = ()  # further (path, old, new) edits of the same mutant

    def edits(self) -> tuple[tuple[str, str, str], ...]:
        return ((self.path, self.old, self.new), *self.more)


MUTANTS = (
    Mutant(
        "guard_ignored",
        "smartmask/edit_mask.py",
        "mask[:, y, x] *= 1.0 - guard[:, y, x]",
        "pass",
        (
            f"{UB}::test_face_is_pixel_identical_when_the_edit_reaches_the_jaw",
            f"{UB}::test_protect_is_kept_exactly_in_auto",
        ),
        "faces and protect no longer cut out of the mask (the node still says 'faces protected: 1')",
    ),
    Mutant(
        "protect_ignored_in_auto",
        "smartmask/pipeline.py",
        "return g if protect is None else torch.maximum(g, protect[i : i + 1])",
        "return g",
        (f"{UB}::test_protect_is_kept_exactly_in_auto",),
        "auto's protect input dropped",
        more=(
            (
                "smartmask/pipeline.py",
                "shield = face_mask if protect is None else torch.maximum(face_mask, protect)",
                "shield = face_mask",
            ),
        ),
    ),
    Mutant(
        "frame0_mask_for_every_frame",
        "smartmask/schedule.py",
        "            results.append(analyse(i, oa, ea))\n",
        "            results.append((lambda r: (results[0][0], *r[1:]) if results else r)(analyse(i, oa, ea)))\n",
        (f"{UB}::test_each_frame_of_a_batch_gets_its_own_mask",),
        "every frame of a batch masked with frame 0's mask",
    ),
    Mutant(
        "pyramid_blur_twice_as_wide",
        "smartmask/blur.py",
        "s_small = math.sqrt(max(sigma**2 - pre**2, 1e-6)) / 2.0",
        "s_small = math.sqrt(max(sigma**2 - pre**2, 1e-6))",
        (f"{UB}::test_gaussian_blur_width_matches_scipy",),
        "every blur above 6 px twice as wide",
    ),
    Mutant(
        "gaussian_kernel_twice_as_wide",
        "smartmask/blur.py",
        "k = torch.exp(-0.5 * (x / sigma) ** 2)",
        "k = torch.exp(-0.5 * (x / (2 * sigma)) ** 2)",
        (f"{UB}::test_gaussian_blur_width_matches_scipy",),
        "the gaussian kernel twice as wide (both twins)",
    ),
    Mutant(
        "box_blur_torch_window_too_small",
        "smartmask/blur.py",
        "    return y / float((2 * r + 1) ** 2)",
        "    return y / float((2 * r + 2) ** 2)",
        (f"{UB}::test_box_blur_is_the_window_mean",),
        "the torch (GPU) box blur divides by the wrong window size",
    ),
    Mutant(
        "composite_through_float16",
        "smartmask/pipeline.py",
        "    alpha_composite(o[:, y, x], e, m[:, y, x], out=inside)\n    return out",
        "    alpha_composite(o[:, y, x], e, m[:, y, x], out=inside)\n    return out.half().float()",
        (f"{UB}::test_composite_outside_the_mask_is_the_original_bit_for_bit",),
        "the composite rounded through float16: untouched pixels off by one level",
    ),
    Mutant(
        "multiband_ignored",
        "smartmask/pipeline.py",
        'if method == "multiband":',
        "if False:",
        (f"{UB}::test_multiband_through_auto_keeps_the_outside_and_blends_the_seam",),
        "composite='multiband' silently runs the alpha blend",
    ),
    Mutant(
        "interrupt_not_between_stages",
        "smartmask/pipeline.py",
        '    checkpoint("feather")\n',
        "",
        (f"{UB}::test_interrupt_reaches_inside_one_large_frame",),
        "Cancel not honoured between the stages of one large frame",
    ),
    Mutant(
        "interrupt_not_in_face_detection",
        "smartmask/faces.py",
        '        checkpoint("faces")\n',
        "",
        (f"{UB}::test_interrupt_reaches_the_face_detection",),
        "the face detection worker runs every frame after Cancel",
    ),
    Mutant(
        "warp_twin_bilinear",
        "smartmask/align.py",
        'mode="bicubic", padding_mode="border"',
        'mode="bilinear", padding_mode="border"',
        (f"{UB}::test_warp_twins_agree",),
        "the GPU warp resamples differently from the CPU warp",
    ),
    Mutant(
        "grow_twin_square",
        "smartmask/feather.py",
        "    big = r // 2\n",
        "    big = r\n",
        (f"{UB}::test_grow_twins_differ_only_by_octagon_versus_disk",),
        "the GPU grow dilates by a square, much larger than the CPU's disk",
    ),
    Mutant(
        "manual_threshold_ignored",
        "smartmask/edit_mask.py",
        "lv = manual_levels(opts.threshold) if opts.threshold > 0 else auto_levels(fine)",
        "lv = auto_levels(fine)",
        (f"{UB}::test_manual_threshold_is_used_and_reported",),
        "a user's threshold ignored",
    ),
    Mutant(
        "feather_options_ignored",
        "smartmask/pipeline.py",
        "    opts = opts or FeatherOptions()\n",
        "    opts = FeatherOptions()\n",
        (f"{UB}::test_feather_options_change_the_soft_edge",),
        "auto's feather settings ignored",
    ),
    Mutant(
        "exclude_before_feather",
        "smartmask/pipeline.py",
        '    mask, ex = mask_for(mask, exclude, "exclude")\n',
        '    mask, ex = mask_for(mask, exclude, "exclude")\n    ex = ex * 0.5\n',
        (
            f"{UB}::test_feather_in_pixels_with_exclude_keeps_the_excluded_area_at_zero",
            f"{UB}::test_face_is_pixel_identical_when_the_edit_reaches_the_jaw",
        ),
        "exclude only half applied: the soft edge leaks into the excluded area",
    ),
    Mutant(
        "node_output_float16",
        "nodes/_comfy.py",
        "return tuple(t.to(dev) if isinstance(t, torch.Tensor) else t for t in tensors)",
        "return tuple(t.to(dev).half().float() if isinstance(t, torch.Tensor) else t for t in tensors)",
        ("tests/test_comfyui_keep.py::test_composite_node_keeps_every_unmasked_pixel_exactly",),
        "the nodes hand ComfyUI a float16-rounded image (through the real server)",
    ),
    Mutant(
        "face_tracks_ignored",
        "smartmask/faces.py",
        "    if tracks is not None:\n        evidence, ids = tracks.steady(",
        "    if False:\n        evidence, ids = tracks.steady(",
        (
            "tests/test_face_intent.py::test_video_face_decision_is_steady_across_frames_and_chunks",
            "tests/test_comfyui_server.py::test_a_video_batch_keeps_one_decision_per_face_through_the_server",
        ),
        "a video's faces judged frame by frame: one frame's face flips back to the original",
    ),
    Mutant(
        "missed_faces_not_filled",
        "smartmask/faces.py",
        "    for i, found in fill_missed_faces(per_frame, thumbs).items():",
        "    for i, found in {}.items():",
        (f"{UB}::test_a_face_the_detector_misses_in_one_video_frame_is_still_protected",),
        "a video frame whose face the detector missed is left unguarded (the drifted face flashes in)",
    ),
    Mutant(
        "stitched_surround_kept",
        "smartmask/edit_mask.py",
        "    if lv.stitched:  # (only automatic levels are ever stitched)",
        "    if False:",
        (
            "tests/test_edit_regions.py::test_a_stitched_eraser_takes_the_object_and_restores_the_redrawn_surround",
            "tests/test_edit_regions.py::test_a_stitched_swap_that_keeps_part_of_the_old_colour_is_taken_whole",
            "tests/test_comfyui_server.py::test_a_stitched_eraser_keeps_the_redrawn_surround_original_through_the_server",
        ),
        "an eraser's redrawn surround (the sleeve round an erased apple) is taken with the edit",
    ),
    Mutant(
        "stitched_trim_ignores_texture",
        "smartmask/regions.py",
        "    weak = mask & ((d > level) | ~textured)",
        "    weak = mask & (d > level)",
        ("tests/test_edit_regions.py::test_trim_to_core_drops_a_weak_textured_surround_but_not_a_smooth_one",),
        "an erased object's shadow on a plain table comes back from the original (a ghost shadow)",
    ),
    Mutant(
        "local_shadow_dropped",
        "smartmask/seams.py",
        "            drop[i] = _runs_on(pieces, i, (x, y, bw, bh), r, near, outside)",
        "            drop[i] = True",
        ("tests/test_edit_regions.py::test_an_erased_objects_soft_shadow_stays_erased",),
        "an erased object's soft shadow, a gradual change that ends, comes back as a ghost shadow",
    ),
    Mutant(
        "node_ignores_cancel",
        "nodes/_comfy.py",
        "    set_check(lambda _stage: check_interrupted())\n",
        "",
        ("tests/test_comfyui_keep.py::test_interrupt_stops_a_running_batch_and_the_server_keeps_working",),
        "ComfyUI's Cancel ignored by Smart Mask (auto) (through the real server)",
        more=(
            ("nodes/_comfy.py", "        check_interrupted()\n", ""),
            ("nodes/_comfy.py", "        bar = ProgressBar(total)\n", "        bar = None\n"),
        ),
    ),
)

SURVIVORS = (
    Mutant(
        "reduced_feather_threshold",
        "smartmask/pipeline.py",
        "MIN_REDUCED_SIGMA = 1.5",
        "MIN_REDUCED_SIGMA = 3.0",
        (f"{UB}::test_feather_options_change_the_soft_edge", "tests/test_core.py"),
        "survives: it only moves which feathers run at full resolution (slower, the same look); "
        "no test pins the exact soft mask of a feather, only its width",
    ),
    Mutant(
        "one_alignment_worker",
        "smartmask/schedule.py",
        "ALIGN_WORKERS = max(1, min(8, (os.cpu_count() or 2) // 2))",
        "ALIGN_WORKERS = 1",
        ("tests/test_core.py",),
        "survives: speed only (motions are estimated ahead by fewer threads; results identical)",
    ),
)


def copy_repo(dest: Path) -> None:
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    for name in LINKED:
        if (ROOT / name).exists():
            os.symlink((ROOT / name).resolve(), dest / name)


def run_mutant(m: Mutant, timeout: float = 600) -> tuple[str, float, str]:
    """``("killed" | "survived" | "stale" | "error", seconds, detail)``."""
    start = time.monotonic()
    mutated: dict[str, str] = {}
    for path, old, new in m.edits():
        code = mutated.get(path, (ROOT / path).read_text())
        count = code.count(old)
        if count != 1:
            return "stale", 0.0, f"snippet found {count} times in {path}: {old!r}"
        mutated[path] = code.replace(old, new)
    with tempfile.TemporaryDirectory(prefix="smartmask_mutant_") as tmp:
        # pytest imports the root __init__.py as a package named after the folder: a valid identifier
        copy = Path(tmp) / f"pack_{m.name}"
        copy.mkdir()
        copy_repo(copy)
        for path, code in mutated.items():
            (copy / path).write_text(code)
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests]
        try:
            proc = subprocess.run(
                cmd,
                cwd=copy,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, "SMARTMASK_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"},
            )
        except subprocess.TimeoutExpired:
            return "error", time.monotonic() - start, f"timed out after {timeout:.0f} s"
    took = time.monotonic() - start
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    if proc.returncode == 0:
        return "survived", took, tail
    if proc.returncode == 1:  # tests ran and failed
        return "killed", took, tail
    return "error", took, f"pytest exit code {proc.returncode} (not a test failure):\n{tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="only mutants whose name contains this")
    ap.add_argument("--survivors", action="store_true", help="also run the known survivors")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="mutants run at once (default: half the CPU cores)",
    )
    args = ap.parse_args(argv)
    mutants = [m for m in MUTANTS if args.k in m.name]
    survivors = [m for m in SURVIVORS if args.k in m.name] if args.survivors else []
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:34s} killed by {', '.join(t.split('::')[-1] for t in m.tests)}: {m.bug}")
        for m in SURVIVORS:
            print(f"{m.name:34s} {m.bug}")
        return 0
    bad = []
    runs = [(m, "survived" if m in survivors else "killed") for m in mutants + survivors]
    with ThreadPoolExecutor(args.jobs) as pool:
        for (m, expect), (outcome, took, detail) in zip(runs, pool.map(lambda r: run_mutant(r[0]), runs)):
            print(f"{outcome:8s} {m.name:34s} {took:5.1f} s  ({m.bug})", flush=True)
            if outcome != expect:
                bad.append(m.name)
                print("    " + detail.replace("\n", "\n    "), flush=True)
    if bad:
        print(f"mutation check FAILED for: {', '.join(bad)}")
        return 1
    print(
        f"mutation check passed: {len(mutants)} mutants killed"
        + (f", {len(survivors)} known survivors survived" if survivors else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
