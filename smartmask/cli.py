"""Command line: ``python -m smartmask composite | batch | demo``.

The command line runs exactly the pipeline that the "Smart Mask (auto)" node runs, with the
same defaults, so a result can be reproduced outside ComfyUI.

It is careful with the user's files: every output path is checked before any work (it must not
be an input, through links too, nor another output of the same run; its extension must be known
and its folder writable), every file is written atomically (see ``imageio.atomic_write``), and
every expected failure is one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .face_detect import DETECTORS
from .imageio import DEFAULT_QUALITY, FORMATS, output_format, read_image, write_image, write_mask
from .pipeline import FeatherOptions, MaskOptions, auto
from .tensors import SmartMaskError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KNOWN_EXTENSIONS = ", ".join(sorted(FORMATS))


def default_model_dirs() -> list[str]:
    """Where the command line looks for face models: ComfyUI's models folder when COMFYUI_PATH is
    set, then the user cache (where a first-use download goes)."""
    dirs = []
    if os.environ.get("COMFYUI_PATH"):
        dirs.append(str(Path(os.environ["COMFYUI_PATH"]) / "models" / "facedetection"))
    dirs.append(str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smart-mask" / "models"))
    return dirs


# ------------------------------------------------------------------------------ option ranges


def ranged(lo: float, hi: float, unit: str, kind=float):
    """An argparse type accepting ``kind`` numbers in ``lo..hi``: a typo (``--grow 5`` for 5 px, which
    is five image diagonals) is an error naming the range and unit instead of minutes of work."""

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not (math.isfinite(v) and lo <= v <= hi):
            raise argparse.ArgumentTypeError(f"{text} is outside {lo:g}..{hi:g} ({unit})")
        return v

    parse.__name__ = kind.__name__
    return parse


# Ranges of the numeric options. Sizes are fractions of the image diagonal (0.004 = 0.4 %, about
# 18 px on a 4K frame); 0.05 is already a band of 220 px on 4K.
DIAGONAL = "fraction of the image diagonal"
RANGES = {
    "threshold": (0.0, 100.0, "delta E; 0 = automatic"),
    "relative": (0.0, 1.0, "fraction of the largest region"),
    "min_region": (0.0, 0.5, "fraction of the image area"),
    "cleanup": (0.0, 4.0, "times the default clean-up radii"),
    "grow": (-0.05, 0.05, DIAGONAL),
    "feather": (0.0, 0.05, DIAGONAL),
    "close": (0.0, 0.05, DIAGONAL),
}


def _range_help(key: str, text: str) -> str:
    lo, hi, unit = RANGES[key]
    return f"{text} ({unit}; {lo:g}..{hi:g})"


def add_options(p: argparse.ArgumentParser) -> None:
    m, f = MaskOptions(), FeatherOptions()

    def num(flag, key, default, text):
        lo, hi, unit = RANGES[key]
        g.add_argument(flag, type=ranged(lo, hi, unit), default=default, metavar="X", help=_range_help(key, text))

    g = p.add_argument_group("difference mask")
    num("--threshold", "threshold", m.threshold, "colour difference that counts as a change")
    g.add_argument(
        "--space",
        choices=("lab", "rgb"),
        default=m.space,
        help="colour space of the difference: lab = perceptual delta E, rgb = plain distance",
    )
    g.add_argument(
        "--regions",
        choices=("all", "largest", "relative"),
        default=m.regions,
        help="which changed regions count as the edit",
    )
    num("--relative", "relative", m.relative, "for --regions relative: smallest region kept")
    num("--min-region", "min_region", m.min_region, "smallest region kept")
    g.add_argument("--no-fill-holes", action="store_true", help="keep holes inside regions")
    num("--cleanup", "cleanup", m.cleanup, "strength of the morphological clean-up, 0 = off")
    g.add_argument("--no-align", action="store_true", help="do not undo a global shift/scale of the edited image")
    g = p.add_argument_group("face guard")
    g.add_argument("--no-faces", action="store_true", help="do not protect faces")
    g.add_argument(
        "--faces",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto: protect only the faces the edit kept (a changed face is taken from the edit); "
        "always: every face; never: none (as --no-faces)",
    )
    g.add_argument(
        "--face-detector",
        choices=DETECTORS,
        default="auto",
        help="auto: YuNet when its model file is in a --model-dir (or can be downloaded once), else the "
        "offline MTCNN; yunet / mtcnn: that one; none: no face detection",
    )
    g.add_argument(
        "--model-dir",
        action="append",
        default=None,
        metavar="DIR",
        help="folder holding face_detection_yunet_2023mar.onnx (repeatable; default: "
        "$COMFYUI_PATH/models/facedetection, then ~/.cache/smart-mask/models)",
    )
    g = p.add_argument_group("feather and composite")
    num("--grow", "grow", f.grow, "grow (+) or shrink (-) the mask")
    num("--feather", "feather", f.feather, "gaussian feather sigma")
    num("--close", "close", f.close, "gap closing radius")
    g.add_argument("--no-edge-aware", action="store_true", help="plain gaussian feather, no guided filter")
    g.add_argument(
        "--method",
        choices=("alpha", "multiband"),
        default="alpha",
        help="composite method: alpha = exact blend, multiband = Laplacian-pyramid blend",
    )
    g.add_argument(
        "--no-harmonize", action="store_true", help="do not match the edit's colours to the original at the seam"
    )
    g = p.add_argument_group("output files")
    g.add_argument(
        "--quality",
        type=ranged(50, 100, "JPEG / lossy WebP quality", int),
        default=DEFAULT_QUALITY,
        metavar="Q",
        help="quality of .jpg and lossy .webp outputs (50..100)",
    )
    g.add_argument("--lossless", action="store_true", help="write .webp outputs losslessly (exact pixels)")
    add_common(p)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="torch device: auto (cuda when available), cpu, cuda, cuda:N, mps")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors, warnings and the batch summary")
    p.add_argument("--debug", action="store_true", help="show full tracebacks of errors")


def options_from(a) -> dict:
    return dict(
        mask_opts=MaskOptions(
            threshold=a.threshold,
            space=a.space,
            regions=a.regions,
            relative=a.relative,
            min_region=a.min_region,
            fill_holes=not a.no_fill_holes,
            cleanup=a.cleanup,
            align=not a.no_align,
        ),
        feather_opts=FeatherOptions(grow=a.grow, feather=a.feather, close=a.close, edge_aware=not a.no_edge_aware),
        faces="never" if a.no_faces else a.faces,
        face_detector=a.face_detector,
        model_dirs=a.model_dir if a.model_dir else default_model_dirs(),
        method=a.method,
        harmonize=not a.no_harmonize,
    )


def pick_device(name: str) -> torch.device:
    """The torch device ``name`` names, checked before any work: an unknown or absent device is a
    one-line error, not a traceback after the images were read."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise SmartMaskError(f"unknown --device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SmartMaskError(f"--device {name}: torch sees no CUDA GPU here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SmartMaskError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SmartMaskError(f"--device {name}: MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise SmartMaskError(f"--device {name}: Smart Mask runs on cpu, cuda or mps, not {dev.type}")
    return dev


# ------------------------------------------------------------------------------ jobs and path checks


@dataclass
class Job:
    """One pair to composite: where it came from (a manifest line, or the command line) and its paths."""

    where: str  # "line 3 (id jacket)" or "" for the composite command
    original: str
    edited: str
    out: str
    mask: str | None = None
    errors: list[str] = field(default_factory=list)

    def outputs(self) -> list[tuple[str, str]]:
        outs = [("out" if self.where else "-o/--output", self.out)]
        if self.mask:
            outs.append(("mask" if self.where else "--mask-out", self.mask))
        return outs


def file_key(path: str):
    """What makes two paths the same file: the device and inode of an existing file (so symlinks
    and hard links match), else the resolved path where it would be created."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.normcase(os.path.realpath(path)))


def _check_input(path: str) -> str | None:
    if not os.path.exists(path):
        return f"{path}: file not found"
    if os.path.isdir(path):
        return f"{path}: is a folder, not an image file"
    if not os.access(path, os.R_OK):
        return f"{path}: cannot read the file (permission denied)"
    return None


def _check_output(path: str, what: str) -> str | None:
    """Extension known, not a folder, and a folder that exists or can be made and is writable."""
    try:
        output_format(path, what)
    except SmartMaskError as e:
        return str(e)
    if os.path.isdir(path):
        return f"{what} {path}: is a folder; give a file name such as {os.path.join(path, 'result.png')}"
    folder = Path(os.path.abspath(path)).parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{what} {path}: {existing} is a file, not a folder"
    try:  # a real attempt: permissions, read-only file systems and ACLs all show here
        with tempfile.TemporaryFile(dir=existing, prefix=".smartmask-check-"):
            pass
    except OSError as e:
        return f"{what} {path}: the folder {existing} is not writable ({e.strerror or e})"
    return None


def check_jobs(jobs: list[Job]) -> None:
    """Validate every job's paths before any work, appending to ``job.errors``.

    Across all jobs of the run: no output may be the same file as any input (a manifest's later
    line may read what an earlier one would have overwritten), nor as another output; a clash
    between two jobs is an error on both, naming the other.
    """
    inputs: dict = {}
    for j in jobs:
        for label, p in (("original", j.original), ("edited", j.edited)):
            err = _check_input(p)
            if err:
                j.errors.append(err)
            inputs.setdefault(file_key(p), (j, label, p))
    outputs: dict = {}
    for j in jobs:
        for what, p in j.outputs():
            err = _check_output(p, what)
            if err:
                j.errors.append(err)
                continue
            key = file_key(p)
            own = {file_key(ip): (j, label, ip) for label, ip in (("original", j.original), ("edited", j.edited))}
            if key in own or key in inputs:
                other, label, ip = own.get(key) or inputs[key]
                whose = f"the {label} image {ip}" + (f" of {other.where}" if other is not j and other.where else "")
                j.errors.append(
                    f"{what} {p} is the same file as {whose}: Smart Mask never writes over its inputs; "
                    "choose another output path"
                )
            elif key in outputs:
                other, owhat, op = outputs[key]
                if other is j:
                    j.errors.append(f"{owhat} {op} and {what} {p} are the same file; give them different paths")
                else:
                    j.errors.append(
                        f"{what} {p} is also the {owhat} of {other.where}; every output must be a different file"
                    )
                    other.errors.append(
                        f"{owhat} {op} is also the {what} of {j.where}; every output must be a different file"
                    )
            else:
                outputs[key] = (j, what, p)


# ------------------------------------------------------------------------------ running


class Warnings:
    """Format warnings (a lossy JPEG, a dropped alpha) said once per run, not once per file."""

    def __init__(self):
        self.said: set[str] = set()

    def say(self, path: str, texts: list[str]) -> None:
        for t in texts:
            if t not in self.said:
                self.said.add(t)
                print(f"warning: {path}: {t}", file=sys.stderr, flush=True)


def run_pair(job: Job, options: dict, device, a, warn: Warnings) -> str:
    o = read_image(job.original)
    e = read_image(job.edited)
    res = auto(o.image.to(device), e.image.to(device), **options)
    for path, write in (
        (job.out, lambda: write_image(job.out, res.image, like=o, quality=a.quality, lossless=a.lossless)),
        (job.mask, lambda: write_mask(job.mask, res.mask, quality=a.quality, lossless=a.lossless)),
    ):
        if not path:
            continue
        try:
            warn.say(path, write())
        except OSError as exc:  # a full disk, a folder removed meanwhile: the old file is still intact
            raise SmartMaskError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return res.describe()


def _check_format_options(a) -> None:
    if a.lossless and any(output_format(p) == "JPEG" for p in getattr(a, "_outputs", [])):
        raise SmartMaskError("--lossless: JPEG has no lossless mode; write .png, .tif or .webp")


def cmd_composite(a) -> int:
    job = Job("", a.original, a.edited, a.output, a.mask_out)
    check_jobs([job])
    if job.errors:
        raise SmartMaskError("; ".join(job.errors))
    a._outputs = [p for _, p in job.outputs()]
    _check_format_options(a)
    device = pick_device(a.device)
    text = run_pair(job, options_from(a), device, a, Warnings())
    if not a.quiet:
        print(text)
        print(f"wrote {a.output}" + (f" and {a.mask_out}" if a.mask_out else ""))
    return 0


def parse_manifest(path: str) -> list[Job]:
    """Every non-blank line of a JSON-lines manifest as a Job; a line that cannot be one is a Job
    carrying its error (so it is reported in order and the others still run)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SmartMaskError(f"manifest {path}: file not found") from None
    except IsADirectoryError:
        raise SmartMaskError(f"manifest {path}: is a folder, not a file") from None
    except PermissionError:
        raise SmartMaskError(f"manifest {path}: cannot read the file (permission denied)") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark, as some editors write
    jobs = []
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            jobs.append(
                Job(
                    f"line {n}",
                    "",
                    "",
                    "",
                    errors=[
                        f"not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1}); save the manifest as UTF-8"
                    ],
                )
            )
            continue
        jobs.append(_job_from_line(n, text))
    return jobs


def _job_from_line(n: int, text: str) -> Job:
    try:
        obj = json.loads(text)
    except ValueError as e:
        return Job(f"line {n}", "", "", "", errors=[f"not valid JSON ({e})"])
    if not isinstance(obj, dict):
        return Job(
            f"line {n}",
            "",
            "",
            "",
            errors=[f'expected a JSON object with "original", "edited" and "out", got {json.dumps(obj)[:60]}'],
        )
    ident = obj.get("id")
    where = f"line {n}" + (f" (id {ident})" if ident is not None else "")
    errors, paths = [], {}
    for key in ("original", "edited", "out", "mask"):
        v = obj.get(key)
        if v is None and key == "mask":
            continue
        if v is None:
            errors.append(f'"{key}" is missing')
        elif not isinstance(v, str) or not v.strip():
            errors.append(f'"{key}" must be a file path (a non-empty string), got {json.dumps(v)[:60]}')
        elif "\x00" in v:
            errors.append(f'"{key}" contains a NUL character')
        else:
            paths[key] = v
    job = Job(
        where, paths.get("original", ""), paths.get("edited", ""), paths.get("out", ""), paths.get("mask"), errors
    )
    return job


def cmd_batch(a) -> int:
    """All pairs in one process. The manifest is checked as a whole before any work; a bad line
    (or a pair that fails) is reported with its line number and id, and the others go on. The
    summary is always printed; the exit status is 0 only when every pair was written."""
    jobs = parse_manifest(a.manifest)
    if not jobs:
        raise SmartMaskError(
            f'manifest {a.manifest}: no pairs (one JSON object per line with "original", "edited" and "out")'
        )
    check_jobs([j for j in jobs if not j.errors])
    a._outputs = [p for j in jobs if not j.errors for _, p in j.outputs()]
    _check_format_options(a)
    device = pick_device(a.device)
    options = options_from(a)
    warn = Warnings()
    failed = done = 0
    for job in jobs:
        if job.errors:
            failed += 1
            print(f"FAIL {job.where}: {'; '.join(job.errors)}", file=sys.stderr, flush=True)
    total = len(jobs)
    try:
        for job in jobs:
            if job.errors:
                continue
            t = time.perf_counter()
            try:
                run_pair(job, options, device, a, warn)
            except Exception as exc:  # one pair's failure never stops the others
                failed += 1
                print(f"FAIL {job.where}: {describe_error(exc)}", file=sys.stderr, flush=True)
                if a.debug:
                    import traceback

                    traceback.print_exc()
                continue
            done += 1
            if not a.quiet:
                print(f"ok   {job.where}  {time.perf_counter() - t:.2f}s", flush=True)
    except KeyboardInterrupt:
        print(
            f"interrupted: {done} of {total} pairs done, {failed} failed, {total - done - failed} not run",
            file=sys.stderr,
            flush=True,
        )
        return 130
    print(
        f"{done} of {total} pairs done" + (f", {failed} failed" if failed else ""),
        file=sys.stderr if failed else sys.stdout,
        flush=True,
    )
    return 1 if failed else 0


def cmd_demo(a) -> int:
    out = Path(a.out or tempfile.mkdtemp(prefix="smart-mask-demo-"))
    targets = [out / n for n in ("result.png", "mask.png", "side_by_side.png")]
    for t in targets:
        err = _check_output(str(t), "output")
        if err:
            raise SmartMaskError(err)
    device = pick_device(a.device)
    o = read_image(EXAMPLES / "original.png").image.to(device)
    e = read_image(EXAMPLES / "edited.png").image.to(device)
    res = auto(o, e, model_dirs=default_model_dirs())
    write_image(targets[0], res.image)
    write_mask(targets[1], res.mask)
    mask_rgb = res.mask[..., None].expand(-1, -1, -1, 3)
    write_image(targets[2], torch.cat([o, e, mask_rgb, res.image], dim=2))
    print(res.describe())
    print("side by side: original | AI edit | mask | result")
    print(out)
    return 0


def describe_error(exc: BaseException) -> str:
    """One line for an error: the pack's own messages as they are, OS errors with their file."""
    if isinstance(exc, SmartMaskError):
        return str(exc)
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        return f"{exc.filename}: {what}" if exc.filename else what
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller image or --device cpu"
    return f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} (run with --debug for the traceback)"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: the full usage block buries the one line that matters."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default, but not a useless "(default: None)" or "(default: False)"."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m smartmask",
        formatter_class=_Formatter,
        description="Keep everything an AI edit was not meant to change.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser(
        "composite",
        formatter_class=_Formatter,
        help="composite one edited image back into its original",
        description="Composite one edited image back into its original. Outputs keep the original's "
        "bit depth, alpha, ICC profile and EXIF where the format allows (see the README).",
    )
    c.add_argument("original", help="the image before the edit (PNG, TIFF, JPEG or WebP; 8 or 16 bits)")
    c.add_argument(
        "edited",
        help="the AI editor's result, same framing (another size is resized only when it is an "
        "editor's rounding or rescale of the original)",
    )
    c.add_argument(
        "-o",
        "--output",
        required=True,
        help=f"result file ({KNOWN_EXTENSIONS}); must not be an input. Written atomically",
    )
    c.add_argument("--mask-out", metavar="PATH", help="also write the final mask (8-bit grey, white = from the edit)")
    add_options(c)
    c.set_defaults(func=cmd_composite)
    b = sub.add_parser(
        "batch",
        formatter_class=_Formatter,
        help="many pairs from a JSON-lines manifest (original, edited, out, optional mask and id)",
        description="Many pairs in one process. Every line is checked before any work; a bad line is "
        "reported with its number and id and never stops the others. Exit status 0 only "
        "when every pair was written.",
    )
    b.add_argument(
        "manifest",
        help='JSON-lines file (UTF-8): one {"original", "edited", "out", optional "mask" '
        'and "id"} object per line; paths relative to the current folder',
    )
    add_options(b)
    b.set_defaults(func=cmd_batch)
    d = sub.add_parser(
        "demo", formatter_class=_Formatter, help="run the bundled example and write result, mask and a side-by-side"
    )
    d.add_argument("--out", help="output folder (default: a new temporary folder)")
    add_common(d)
    d.set_defaults(func=cmd_demo)
    return p


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (tests and wrappers swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def _setup_logging(quiet: bool) -> None:
    """The pack's log lines (a model download, a face detector fallback) on stderr, once each;
    with --quiet only warnings."""
    log = logging.getLogger("smartmask")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
    log.setLevel(logging.WARNING if quiet else logging.INFO)


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    _setup_logging(a.quiet)
    try:
        return a.func(a)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if a.debug:
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, SmartMaskError) else 1
