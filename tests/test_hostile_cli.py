"""The command line used as a hostile (or careless) user would: issue 12's cases, one test each.

Every expected failure is one line on stderr (no traceback without --debug), checked before any
work, and no user file is ever overwritten or left half-written. Most cases call ``cli.main``
in-process (fast); a few run ``python -m smartmask`` to see exactly what a user sees.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from smartmask import cli, imageio
from smartmask.tensors import SmartMaskError
from yunet_model import MISSING_REASON, find_yunet_dir

REPO = Path(__file__).resolve().parents[1]
FAST = ["--face-detector", "none"]


def _picture(h=48, w=64, seed=0) -> np.ndarray:
    """An 8-bit RGB picture with smooth shading and a few shapes (seeded)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([60 + 100 * x / w, 80 + 60 * y / h, 120 + 40 * np.sin(x / 7)], -1)
    img[h // 5 : h // 2, w // 6 : w // 3] = (30, 40, 50)
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _edit(a: np.ndarray) -> np.ndarray:
    """The 'AI edit': a recoloured patch (a garment), everything else untouched."""
    e = a.copy()
    h, w = a.shape[:2]
    e[h // 2 : h - 6, w // 2 : w - 8] = (200, 30, 40)
    return e


@pytest.fixture
def pair(tmp_path, monkeypatch):
    """original.png and edited.png (64x48) in a fresh folder that is the current folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMASK_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    a = _picture()
    Image.fromarray(a).save("original.png")
    Image.fromarray(_edit(a)).save("edited.png")
    return tmp_path


def run(capsys, *args) -> tuple[int, str, str]:
    """``python -m smartmask ARGS`` in-process: (exit status, stdout, stderr)."""
    try:
        rc = cli.main([str(a) for a in args])
    except SystemExit as e:  # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if the pipeline runs: for errors that must be found before any work."""

    def refuse(*a, **k):
        raise AssertionError("the pipeline ran although the command was bound to fail")

    monkeypatch.setattr(cli, "auto", refuse)


# ------------------------------------------------------------------------------ never destroy a file


def test_output_onto_the_original_is_refused_and_the_original_untouched(pair, capsys, no_work):
    before = Path("original.png").read_bytes()
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "original.png", *FAST)
    line = one_line_error(err)
    assert rc == 2 and "is the same file as the original image original.png" in line
    assert Path("original.png").read_bytes() == before


def test_output_onto_the_original_through_a_symlink_is_refused(pair, capsys, no_work):
    os.symlink("original.png", "link.png")
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "link.png", *FAST)
    assert rc == 2 and "same file as the original image" in one_line_error(err)


def test_output_onto_a_hard_link_of_the_edited_image_is_refused(pair, capsys, no_work):
    os.link("edited.png", "hard.png")
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "hard.png", *FAST)
    assert rc == 2 and "same file as the edited image edited.png" in one_line_error(err)


def test_mask_out_onto_an_input_is_refused(pair, capsys, no_work):
    rc, _, err = run(
        capsys, "composite", "original.png", "edited.png", "-o", "out.png", "--mask-out", "edited.png", *FAST
    )
    assert rc == 2 and "--mask-out edited.png is the same file as the edited image" in one_line_error(err)
    assert not Path("out.png").exists()


def test_output_equal_to_mask_out_is_refused(pair, capsys, no_work):
    rc, _, err = run(
        capsys, "composite", "original.png", "edited.png", "-o", "out.png", "--mask-out", "./out.png", *FAST
    )
    assert rc == 2 and "are the same file" in one_line_error(err)


def test_a_failed_write_leaves_the_existing_file_and_no_temporary(pair, monkeypatch):
    Path("result.png").write_bytes(b"the user's previous result")

    def full_disk(self, fp, *a, **k):
        fp.write(b"\x89PNG half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        imageio.write_image("result.png", imageio.read_image("original.png").image)
    assert Path("result.png").read_bytes() == b"the user's previous result"
    assert sorted(p.name for p in pair.iterdir() if p.is_file()) == ["edited.png", "original.png", "result.png"]


def test_an_existing_output_is_replaced_whole_and_keeps_its_permissions(pair, capsys):
    Path("out.png").write_bytes(b"old")
    os.chmod("out.png", 0o640)
    rc, _, _ = run(capsys, "composite", "original.png", "edited.png", "-o", "out.png", *FAST)
    assert rc == 0 and Image.open("out.png").size == (64, 48)
    assert os.stat("out.png").st_mode & 0o777 == 0o640


# ------------------------------------------------------------------------------ keep what the original had


def _mask_zero(path) -> np.ndarray:
    return np.asarray(Image.open(path)) == 0


def test_icc_profile_and_exif_are_kept(pair, capsys):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # capture date, in the Exif sub-IFD
    Image.open("original.png").save("tagged.png", icc_profile=icc, exif=exif.tobytes())
    for ext in ("png", "tif", "webp", "jpg"):
        rc, _, err = run(capsys, "composite", "tagged.png", "edited.png", "-o", f"out.{ext}", *FAST)
        assert rc == 0, err
        with Image.open(f"out.{ext}") as im:
            assert im.info.get("icc_profile") == icc, ext
            assert im.getexif().get(0x010F) == "Camera Maker", ext
            assert im.getexif().get_ifd(0x8769).get(0x9003) == "2024:05:06 07:08:09", ext


def test_alpha_channel_of_the_original_is_kept(pair, capsys):
    rgb = np.asarray(Image.open("original.png"))
    alpha = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save("rgba.png")
    rc, _, _ = run(capsys, "composite", "rgba.png", "edited.png", "-o", "out.png", "--mask-out", "m.png", *FAST)
    assert rc == 0
    out = np.asarray(Image.open("out.png"))
    assert out.shape == (48, 64, 4) and np.array_equal(out[..., 3], alpha)
    keep = _mask_zero("m.png")
    assert keep.any() and np.array_equal(out[..., :3][keep], rgb[keep])


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16_bit_in_16_bit_out_bit_exact_outside_the_mask(pair, capsys, ext):
    a8 = _picture()
    rng = np.random.default_rng(1)
    a16 = a8.astype(np.uint16) * 257 + rng.integers(0, 200, a8.shape, dtype=np.uint16)  # low bits in use
    e16 = _edit(a8).astype(np.uint16) * 257
    cv2.imwrite(f"o16.{ext}", a16[..., ::-1])
    cv2.imwrite(f"e16.{ext}", e16[..., ::-1])
    rc, _, err = run(capsys, "composite", f"o16.{ext}", f"e16.{ext}", "-o", f"out.{ext}", "--mask-out", "m.png", *FAST)
    assert rc == 0, err
    out = cv2.imread(f"out.{ext}", cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert out.dtype == np.uint16
    keep = _mask_zero("m.png")
    assert keep.mean() > 0.5 and np.array_equal(out[keep], a16[keep])
    assert not np.array_equal(out, a16), "the edit is in the result"


def test_jpeg_is_written_at_high_quality_with_a_one_line_warning(pair, capsys):
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "out.jpg", "--mask-out", "m.png", *FAST)
    assert rc == 0
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "no longer bit-exact" in warnings[0]
    keep = _mask_zero("m.png")
    diff = np.abs(np.asarray(Image.open("out.jpg")).astype(int) - _picture().astype(int))[keep]
    assert diff.mean() < 2.0  # quality 95 with 4:4:4 chroma, not Pillow's default 75


def test_lossless_webp_is_exact_outside_the_mask_and_says_nothing(pair, capsys):
    rc, _, err = run(
        capsys, "composite", "original.png", "edited.png", "-o", "out.webp", "--lossless", "--mask-out", "m.png", *FAST
    )
    assert rc == 0 and "warning" not in err
    keep = _mask_zero("m.png")
    assert np.array_equal(np.asarray(Image.open("out.webp").convert("RGB"))[keep], _picture()[keep])


def test_lossless_jpeg_is_an_error_before_the_work(pair, capsys, no_work):
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "out.jpg", "--lossless", *FAST)
    assert rc == 2 and "JPEG has no lossless mode" in one_line_error(err)


# ------------------------------------------------------------------------------ parameter ranges


@pytest.mark.parametrize(
    "args, says",
    [
        (["--grow", "5"], "argument --grow: 5 is outside -0.05..0.05 (fraction of the image diagonal)"),
        (["--feather", "-1"], "argument --feather: -1 is outside 0..0.05"),
        (["--close", "0.5"], "argument --close: 0.5 is outside 0..0.05"),
        (["--threshold", "nan"], "argument --threshold: nan is outside 0..100 (delta E"),
        (["--min-region", "2"], "argument --min-region: 2 is outside 0..0.5 (fraction of the image area)"),
        (["--cleanup", "abc"], "argument --cleanup: 'abc' is not a number"),
        (["--quality", "10"], "argument --quality: 10 is outside 50..100"),
        (["--space", "hsv"], "argument --space: invalid choice"),
        (["--face-detector", "dlib"], "argument --face-detector: invalid choice"),
    ],
)
def test_out_of_range_options_are_one_line_errors(pair, capsys, no_work, args, says):
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "out.png", *args)
    assert rc == 2 and says in one_line_error(err)


def test_help_gives_every_argument_a_text_a_unit_and_its_default(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            assert action.help, f"{name}: {action.dest} has no help"
    with pytest.raises(SystemExit):
        cli.main(["composite", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in (
        "original the image before the edit",
        "edited the AI editor's result",
        "--face-detector",
        "fraction of the image diagonal; -0.05..0.05) (default: 0.004)",
        "(default: 0.1)",
        "--no-harmonize",
    ):
        assert needle in text, needle


# ------------------------------------------------------------------------------ batch


def _manifest(lines: list) -> Path:
    p = Path("manifest.jsonl")
    with open(p, "wb") as f:
        for ln in lines:
            f.write(ln if isinstance(ln, bytes) else (json.dumps(ln) if not isinstance(ln, str) else ln).encode())
            f.write(b"\n")
    return p


def test_bad_manifest_lines_are_reported_and_never_stop_the_others(pair, capsys):
    good = {"id": "jacket", "original": "original.png", "edited": "edited.png", "out": "out/jacket.png"}
    m = _manifest(
        [
            "null",
            "[1, 2]",
            "42",
            '"original.png"',
            {"id": "num", "original": 5, "edited": "edited.png", "out": "out/n.png"},
            {"id": "nokey", "original": "original.png", "out": "out/k.png"},
            b'{"id": "latin1", "original": "caf\xe9.png"}',
            "{not json",
            good,
            {
                "id": "tail",
                "original": "original.png",
                "edited": "edited.png",
                "out": "out/tail.png",
                "mask": "out/t_m.png",
            },
        ]
    )
    rc, out, err = run(capsys, "batch", m, *FAST)
    assert rc == 1
    fails = [ln for ln in err.splitlines() if ln.startswith("FAIL")]
    assert [f.split(":")[0] for f in fails] == [
        "FAIL line 1",
        "FAIL line 2",
        "FAIL line 3",
        "FAIL line 4",
        "FAIL line 5 (id num)",
        "FAIL line 6 (id nokey)",
        "FAIL line 7",
        "FAIL line 8",
    ]
    assert "got null" in fails[0] and "not UTF-8" in fails[6] and '"edited" is missing' in fails[5]
    assert "ok   line 9 (id jacket)" in out and "ok   line 10 (id tail)" in out
    assert "2 of 10 pairs done, 8 failed" in err
    assert Path("out/jacket.png").is_file() and Path("out/tail.png").is_file() and Path("out/t_m.png").is_file()
    assert "Traceback" not in err


def test_duplicate_outputs_in_a_manifest_name_both_lines_before_any_work(pair, capsys):
    m = _manifest(
        [
            {"id": "a", "original": "original.png", "edited": "edited.png", "out": "same.png"},
            {"id": "b", "original": "original.png", "edited": "edited.png", "out": "b.png", "mask": "./same.png"},
            {"id": "c", "original": "original.png", "edited": "edited.png", "out": "c.png"},
            {"id": "d", "original": "c.png", "edited": "edited.png", "out": "d.png"},
        ]
    )
    Path("c.png").write_bytes(Path("original.png").read_bytes())  # line 4's input is line 3's output
    before = Path("c.png").read_bytes()
    rc, out, err = run(capsys, "batch", m, *FAST)
    assert rc == 1
    assert "FAIL line 1 (id a): out same.png is also the mask of line 2 (id b)" in err
    assert "FAIL line 2 (id b): mask ./same.png is also the out of line 1 (id a)" in err
    assert "FAIL line 3 (id c): out c.png is the same file as the original image c.png of line 4 (id d)" in err
    assert "ok   line 4 (id d)" in out and Path("c.png").read_bytes() == before
    assert not Path("same.png").exists()
    assert "1 of 4 pairs done, 3 failed" in err


def test_a_pair_failing_during_the_work_does_not_stop_the_rest(pair, capsys):
    Path("broken.png").write_bytes(Path("original.png").read_bytes()[:300])
    Image.fromarray(_picture(32, 32)).save("small.png")
    m = _manifest(
        [
            {"id": "trunc", "original": "broken.png", "edited": "edited.png", "out": "t.png"},
            {"id": "size", "original": "small.png", "edited": "edited.png", "out": "s.png"},
            {"id": "fine", "original": "original.png", "edited": "edited.png", "out": "f.png"},
        ]
    )
    rc, out, err = run(capsys, "batch", m, "-q", *FAST)
    assert rc == 1 and out == ""
    assert "FAIL line 1 (id trunc): broken.png: the image is damaged or truncated" in err
    assert "FAIL line 2 (id size): original is 32x32 but edited is 64x48" in err
    assert "1 of 3 pairs done, 2 failed" in err and Path("f.png").is_file()


def test_an_all_good_batch_exits_0_with_the_summary(pair, capsys):
    m = _manifest([{"original": "original.png", "edited": "edited.png", "out": f"o{i}.png"} for i in range(2)])
    rc, out, err = run(capsys, "batch", m, *FAST)
    assert rc == 0 and "2 of 2 pairs done" in out and err == ""


def test_an_empty_or_missing_manifest_is_one_line(pair, capsys):
    _manifest(["", "   "])
    rc, _, err = run(capsys, "batch", "manifest.jsonl", *FAST)
    assert rc == 2 and "no pairs" in one_line_error(err)
    rc, _, err = run(capsys, "batch", "nope.jsonl", *FAST)
    assert rc == 2 and "manifest nope.jsonl: file not found" in one_line_error(err)


# ------------------------------------------------------------------------------ one-line errors


def test_missing_input_is_one_line(pair, capsys, no_work):
    rc, _, err = run(capsys, "composite", "original.png", "nope.png", "-o", "out.png", *FAST)
    assert rc == 2 and one_line_error(err) == "error: nope.png: file not found"


def test_a_folder_as_input_is_one_line(pair, capsys, no_work):
    os.mkdir("photos")
    rc, _, err = run(capsys, "composite", "photos", "edited.png", "-o", "out.png", *FAST)
    assert rc == 2 and "photos: is a folder" in one_line_error(err)


def test_an_unreadable_input_is_one_line(pair, capsys, no_work, monkeypatch):
    os.chmod("edited.png", 0)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root reads any file whatever its mode (CI runs as root): the check sees what a user sees
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: False if str(p).endswith("edited.png") else real_access(p, mode, **kw)
        )
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "out.png", *FAST)
    assert rc == 2 and "permission denied" in one_line_error(err)


def test_not_an_image_is_one_line(pair, capsys):
    Path("notes.png").write_text("shopping list")
    rc, _, err = run(capsys, "composite", "notes.png", "edited.png", "-o", "out.png", *FAST)
    assert rc == 2 and "notes.png: not an image" in one_line_error(err)


def test_a_truncated_png_is_one_line(pair, capsys):
    Path("cut.png").write_bytes(Path("original.png").read_bytes()[:-40])
    rc, _, err = run(capsys, "composite", "cut.png", "edited.png", "-o", "out.png", *FAST)
    assert rc == 2 and "cut.png: the image is damaged or truncated" in one_line_error(err)
    assert not Path("out.png").exists()


def test_an_unwritable_folder_is_one_line_before_the_work(pair, capsys, no_work):
    Path("afile").write_text("x")
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "afile/out.png", *FAST)
    assert rc == 2 and "afile is a file, not a folder" in one_line_error(err)
    ro = "/proc" if os.path.isdir("/proc") else None
    if ro is None:
        pytest.skip("no read-only folder to try")
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", f"{ro}/smartmask-out.png", *FAST)
    assert rc == 2 and f"the folder {ro} is not writable" in one_line_error(err)


def test_an_output_that_is_a_folder_is_one_line(pair, capsys, no_work):
    os.mkdir("results.png")
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "results.png", *FAST)
    assert rc == 2 and "is a folder" in one_line_error(err)


@pytest.mark.parametrize("name", ["out.gif", "out", "out.PNG.bak"])
def test_an_unknown_output_extension_is_refused_before_the_work(pair, capsys, no_work, name):
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", name, *FAST)
    assert rc == 2 and "unknown image extension" in one_line_error(err) and ".webp" in err


def test_an_unknown_mask_extension_is_refused_before_the_work(pair, capsys, no_work):
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "out.png", "--mask-out", "m.bmp", *FAST)
    assert rc == 2 and "mask-out m.bmp: unknown image extension '.bmp'" in one_line_error(err)


@pytest.mark.parametrize(
    "device, says",
    [
        ("bogus", "unknown --device 'bogus'"),
        ("cuda:99", "--device cuda:99"),
        ("meta", "Smart Mask runs on cpu, cuda or mps"),
    ],
)
def test_a_bad_device_is_one_line_before_the_work(pair, capsys, no_work, device, says):
    rc, _, err = run(capsys, "composite", "original.png", "edited.png", "-o", "out.png", "--device", device, *FAST)
    assert rc == 2 and says in one_line_error(err)


def test_an_edit_padded_beyond_rounding_names_both_sizes(pair, capsys):
    e = np.asarray(Image.open("edited.png"))
    Image.fromarray(np.pad(e, ((0, 16), (0, 0), (0, 0)))).save("padded.png")  # 64x48 -> 64x64
    rc, _, err = run(capsys, "composite", "original.png", "padded.png", "-o", "out.png", *FAST)
    assert rc == 2 and "original is 64x48 but edited is 64x64" in one_line_error(err)


def test_debug_shows_the_traceback(pair, capsys):
    with pytest.raises(SmartMaskError, match="file not found"):
        cli.main(["composite", "original.png", "nope.png", "-o", "out.png", "--debug", *FAST])


def test_what_a_user_sees_in_a_terminal(pair):
    """The real command: one line per failure, no traceback, the right exit status."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SMARTMASK_OFFLINE": "1"}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartmask",
            "composite",
            "original.png",
            "gone.png",
            "-o",
            "x.gif",
            "--device",
            "bogus",
            *FAST,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        (
            "error: gone.png: file not found; -o/--output x.gif: unknown image extension '.gif'; use one of .jpeg, "
            ".jpg, .png, .tif, .tiff, .webp"
        )
    ]


# ------------------------------------------------------------------------------ models


@pytest.fixture
def fresh_models(monkeypatch):
    from smartmask import face_detect

    monkeypatch.setattr(face_detect, "_download_tried", set())
    monkeypatch.setattr(face_detect, "_said", set())
    monkeypatch.setattr(face_detect, "_hash_ok", {})
    return face_detect


def test_a_model_file_with_the_wrong_sha256_is_said_once_and_not_used(pair, capsys, fresh_models):
    os.mkdir("models")
    Path("models", fresh_models.YUNET_FILE).write_bytes(b"<html>captive portal</html>")
    m = _manifest([{"original": "original.png", "edited": "edited.png", "out": f"o{i}.png"} for i in range(2)])
    rc, out, err = run(capsys, "batch", m, "--model-dir", "models")
    assert rc == 0 and "2 of 2 pairs done" in out
    said = [ln for ln in err.splitlines() if "expected sha256" in ln]
    assert len(said) == 1 and os.path.join("models", fresh_models.YUNET_FILE) in said[0] and "not used" in said[0]
    assert Path("models", fresh_models.YUNET_FILE).read_bytes() == b"<html>captive portal</html>"


@pytest.mark.skipif(find_yunet_dir() is None, reason=MISSING_REASON)
def test_the_download_is_visible_at_the_default_log_level(pair, capsys, fresh_models, monkeypatch):
    model = find_yunet_dir() / fresh_models.YUNET_FILE
    monkeypatch.delenv("SMARTMASK_OFFLINE")
    monkeypatch.setenv("SMARTMASK_YUNET_URL", model.as_uri())  # a local file: no network in tests
    m = _manifest([{"original": "original.png", "edited": "edited.png", "out": f"o{i}.png"} for i in range(2)])
    rc, _, err = run(capsys, "batch", m, "--model-dir", "models")
    assert rc == 0
    assert sum("downloading the YuNet face detector" in ln for ln in err.splitlines()) == 1
    assert sum("sha256 checked" in ln for ln in err.splitlines()) == 1
    assert Path("models", fresh_models.YUNET_FILE).read_bytes() == model.read_bytes()


def test_a_turned_jpeg_is_written_upright_with_its_exif_but_no_orientation(pair, capsys):
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to view"
    exif[0x010F] = "Camera Maker"
    for name in ("original", "edited"):
        Image.open(f"{name}.png").transpose(Image.Transpose.ROTATE_90).save(
            f"{name}.jpg", quality=98, exif=exif.tobytes()
        )
    rc, _, err = run(capsys, "composite", "original.jpg", "edited.jpg", "-o", "out.png", *FAST)
    assert rc == 0, err
    with Image.open("out.png") as im:
        assert im.size == (64, 48), "written upright, as the pixels were compared"
        assert im.getexif().get(0x010F) == "Camera Maker" and 0x0112 not in im.getexif()


def test_a_full_disk_in_a_batch_is_one_line_and_the_old_file_survives(pair, capsys, monkeypatch):
    Path("a.png").write_bytes(b"yesterday's result")

    def full_disk(self, fp, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    m = _manifest([{"id": "a", "original": "original.png", "edited": "edited.png", "out": "a.png"}])
    rc, _, err = run(capsys, "batch", m, *FAST)
    assert rc == 1 and "FAIL line 1 (id a): cannot write a.png: No space left on device" in err
    assert "0 of 1 pairs done, 1 failed" in err and Path("a.png").read_bytes() == b"yesterday's result"


@pytest.mark.parametrize("h, w", [(12, 16), (24, 20), (32, 32)])
def test_an_edit_of_a_tiny_image_is_kept(pair, capsys, h, w):
    a = _picture(h, w, seed=3)
    e = a.copy()
    e[h // 3 : h // 3 + 4, w // 3 : w // 3 + 4] = (220, 30, 40)
    Image.fromarray(a).save("tiny.png")
    Image.fromarray(e).save("tiny_edit.png")
    rc, _, err = run(capsys, "composite", "tiny.png", "tiny_edit.png", "-o", "out.png", "--mask-out", "m.png", *FAST)
    assert rc == 0, err
    out = np.asarray(Image.open("out.png")).astype(int)
    assert np.abs(out[h // 3 + 1, w // 3 + 1] - (220, 30, 40)).max() <= 10, "the edit was dropped"
    keep = _mask_zero("m.png")
    assert keep.any() and np.array_equal(out[keep], a[keep])


def test_exif_that_cannot_be_rewritten_is_dropped_with_a_warning_not_a_failure(pair, capsys, monkeypatch):
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    Image.open("original.png").save("tagged.png", exif=exif.tobytes())

    def broken(self, *a, **k):
        raise ValueError("a maker note Pillow cannot write")

    monkeypatch.setattr(Image.Exif, "tobytes", broken)
    rc, _, err = run(capsys, "composite", "tagged.png", "edited.png", "-o", "out.png", *FAST)
    assert rc == 0
    assert [ln for ln in err.splitlines() if "EXIF could not be rewritten" in ln and ln.startswith("warning:")]
    assert Image.open("out.png").size == (64, 48)
