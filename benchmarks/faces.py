"""Face detector benchmark: recall, false positives and time for YuNet and MTCNN on real photos.

Images:
- scikit-image's bundled photos: astronaut and camera (one face each, boxes labelled by hand
  below) and face-free photos (coffee, chelsea the cat, rocket, motorcycle, ...);
- the real pairs of the edit bench (original and edited image of each), when its case cache exists
  (built by ``shared/eval/score.py``), with the face boxes from the bench's label files;
- optionally (``--lfw``) scikit-image's ``lfw_subset``: 100 face and 100 non-face 25 px crops,
  upscaled x4 and padded, a low-resolution stress test.

A detection counts as a hit when its centre lies inside an unmatched labelled box, or IoU >= 0.3;
other detections are false positives unless they fall on a known unlabelled face (listed below).
It also reports how much of each labelled box the default soft face mask covers (>= 0.5), since the
bench scores face restoration over those boxes.

    python benchmarks/faces.py [--model-dir ../shared/models] [--cache ~/.cache/edit-bench] [--lfw]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smartmask.face_detect import load_detector  # noqa: E402
from smartmask.faces import face_mask  # noqa: E402

# Hand-labelled face boxes (x0, y0, x1, y1 in pixels) for scikit-image's bundled photos.
SKIMAGE_FACES = {
    "astronaut": [(170, 55, 275, 185)],
    "camera": [(195, 110, 262, 200)],
}
SKIMAGE_NO_FACES = [
    "coffee",
    "chelsea",
    "rocket",
    "stereo_motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "coins",
    "horse",
    "page",
    "brick",
    "grass",
    "gravel",
]
# Real faces the bench labels leave out (a thumbnail in the UI screenshot): neither hit nor false.
UNLABELLED = {"image_qwen_image_2_1_image_edit": [(0.05, 0.5, 0.11, 0.58)]}


def skimage_images():
    from skimage import data

    out = []
    for name, boxes in SKIMAGE_FACES.items():
        im = getattr(data, name)()
        if im.ndim == 2:
            im = cv2.cvtColor(im, cv2.COLOR_GRAY2RGB)
        out.append((f"skimage/{name}", im, boxes, []))
    for name in SKIMAGE_NO_FACES:
        im = getattr(data, name)()
        if isinstance(im, tuple):
            im = im[0]
        if im.dtype != np.uint8:
            im = (np.asarray(im, np.float32) / (1.0 if im.dtype == bool else max(float(im.max()), 1.0)) * 255).astype(
                np.uint8
            )
        if im.ndim == 2:
            im = cv2.cvtColor(im, cv2.COLOR_GRAY2RGB)
        out.append((f"skimage/{name}", np.ascontiguousarray(im[..., :3]), [], []))
    return out


def bench_images(cache: Path, labels: Path):
    out = []
    for case in sorted(glob.glob(str(cache / "cases" / "public" / "real_*"))):
        name = os.path.basename(case)[len("real_") :]
        lab = labels / f"{name}.json"
        if not lab.is_file():
            continue
        faces = json.loads(lab.read_text()).get("faces", [])
        for side in ("original", "edited"):
            im = cv2.imread(os.path.join(case, f"{side}.png"), cv2.IMREAD_COLOR)
            if im is None:
                continue
            h, w = im.shape[:2]
            to_px = lambda bs: [(b[0] * w, b[1] * h, b[2] * w, b[3] * h) for b in bs]  # noqa: E731, B023 (used at once, in this iteration)
            out.append((f"bench/{name}/{side}", im[:, :, ::-1].copy(), to_px(faces), to_px(UNLABELLED.get(name, []))))
    return out


def lfw_images():
    from skimage import data

    crops = data.lfw_subset()
    out = []
    for i, c in enumerate(crops):
        u8 = cv2.resize((c * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
        im = cv2.cvtColor(cv2.copyMakeBorder(u8, 50, 50, 50, 50, cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2RGB)
        out.append((f"lfw/{i:03d}", im, [(50, 50, 150, 150)] if i < 100 else [], []))
    return out


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inside(p, b):
    return b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3]


def match(dets, labels, unlabelled):
    used, hits, false = set(), 0, []
    for d in sorted(dets, key=lambda f: -f.score):
        c = ((d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2)
        j = next((j for j, b in enumerate(labels) if j not in used and (inside(c, b) or iou(d.box, b) >= 0.3)), None)
        if j is not None:
            used.add(j)
            hits += 1
        elif not any(inside(c, b) or iou(d.box, b) >= 0.3 for b in unlabelled + labels):
            false.append(d)
    return hits, false


def coverage(dets, labels, h, w):
    m = face_mask(dets, h, w).numpy() >= 0.5
    out = []
    for b in labels:
        x0, y0, x1, y1 = int(b[0]), int(b[1]), int(np.ceil(b[2])), int(np.ceil(b[3]))
        out.append(float(m[y0:y1, x0:x1].mean()))
    return out


def run(detector, images, model_dirs, rotations, repeat, verbose):
    det = load_detector(detector, model_dirs, download=False, rotations=rotations)
    det.detect(images[0][1])  # warm-up: first call builds the network
    tot_faces = tot_hits = tot_false = 0
    times, covs = [], []
    for name, im, labels, unlabelled in images:
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            dets = det.detect(im)
            ts.append(time.perf_counter() - t)
        times.append((min(ts), im.shape))
        hits, false = match(dets, labels, unlabelled)
        tot_faces += len(labels)
        tot_hits += hits
        tot_false += len(false)
        cov = coverage(dets, labels, *im.shape[:2]) if labels else []
        covs += cov
        if verbose or (hits < len(labels)) or false:
            print(
                f"  {name:55s} faces {len(labels)} found {hits} false {len(false)} "
                f"{' '.join(f'{f.score:.2f}' for f in false)} cover {' '.join(f'{c:.2f}' for c in cov)}"
            )
    ms = [t * 1000 for t, _ in times]
    ms400 = [t * 1000 for t, s in times if max(s[:2]) <= 420]
    print(
        f"{det.name:6s} rotations={'on ' if rotations else 'off'} images {len(images)} faces {tot_faces}: "
        f"found {tot_hits}/{tot_faces}, false {tot_false}, median {statistics.median(ms):.1f} ms/image"
        + (f" ({statistics.median(ms400):.1f} ms on the {len(ms400)} images <= 420 px)" if ms400 else "")
        + (f", mask covers {100 * statistics.mean(covs):.0f}% of labelled face boxes" if covs else "")
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=str(ROOT.parent / "shared" / "models"))
    ap.add_argument("--cache", default=os.environ.get("EDIT_BENCH_CACHE", str(Path.home() / ".cache" / "edit-bench")))
    ap.add_argument("--labels", default=str(ROOT.parent / "shared" / "eval" / "public" / "real"))
    ap.add_argument("--lfw", action="store_true", help="add scikit-image's lfw_subset crops")
    ap.add_argument("--repeat", type=int, default=3, help="timing: best of N runs per image")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    cv2.setLogLevel(0) if hasattr(cv2, "setLogLevel") else None
    groups = {"skimage + bench real pairs": skimage_images() + bench_images(Path(a.cache), Path(a.labels))}
    if a.lfw:
        groups["lfw_subset (25 px crops x4)"] = lfw_images()
    for title, images in groups.items():
        print(f"== {title}: {len(images)} images, {sum(len(i[2]) for i in images)} labelled faces")
        for detector in ("yunet", "mtcnn"):
            for rot in (False, True):
                run(detector, images, [a.model_dir], rot, a.repeat, a.verbose)


if __name__ == "__main__":
    main()
