"""Face intent: a face the edit only drifted is protected, a face the edit changed is the edit.

The decision rules are tested on their own, then on synthetic pairs built from scikit-image's
astronaut: the same editor drift (blur and re-sharpening, colour gain and offset, a tone shift on
the face, noise, a shift of a pixel and a half) and the same garment edit, with the face kept,
replaced (a cat's face), covered by a dark visor, or cut by the frame edge. Faces are found by the
built-in MTCNN, so nothing here needs the YuNet model of ../shared.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from smartmask import face_intent as FI
from smartmask.face_detect import Face, load_detector
from smartmask.faces import guard_faces
from smartmask.pipeline import auto

# The astronaut's face (512 x 512): the core that every face mask must cover, and her eye band.
FACE_CORE = (slice(88, 150), slice(200, 250))  # rows, columns: eyes to mouth, cheek to cheek
EYE_BAND = (slice(88, 119), slice(185, 266))
GARMENT = (slice(330, 500), slice(20, 190))  # a piece of the orange suit, recoloured


def _drift(rgb: np.ndarray, seed: int) -> np.ndarray:
    """An editor's drift over the whole picture, seeded: softened and re-sharpened, colour gain and
    offset, the face's tone shifted (it runs down the neck), noise, and a shift of (1.5, -1) px."""
    r = np.random.default_rng(seed)
    x = rgb.astype(np.float32)
    soft = cv2.GaussianBlur(x, (0, 0), 0.8)
    x = soft + 0.5 * (soft - cv2.GaussianBlur(soft, (0, 0), 1.5))
    x = x * r.uniform(0.97, 1.03, 3) + r.uniform(-4, 4, 3)
    yy, xx = np.mgrid[: x.shape[0], : x.shape[1]]
    w = np.clip(1.5 - np.hypot((xx - 222) / 50, (yy - 120) / 65), 0, 1)[..., None]
    x = x * (1 + w * np.array([0.07, 0.04, 0.06], np.float32))
    x = x + r.normal(0, 1.5, x.shape)
    m = np.float32([[1, 0, 1.5], [0, 1, -1.0]])
    x = cv2.warpAffine(np.clip(x, 0, 255), m, (x.shape[1], x.shape[0]), borderMode=cv2.BORDER_REFLECT)
    return np.clip(x, 0, 255).astype(np.uint8)


def _garment_edit(rgb: np.ndarray) -> np.ndarray:
    """The asked-for edit: a piece of the orange suit turned blue."""
    out = rgb.copy()
    out[GARMENT] = out[GARMENT][..., ::-1]
    return out


def _cat_face(rgb: np.ndarray) -> np.ndarray:
    """The face replaced by a cat's (scikit-image's chelsea), blended in over a soft ellipse."""
    cat = cv2.resize(data.chelsea()[40:260, 120:340], (130, 150), interpolation=cv2.INTER_AREA)
    big = np.zeros_like(rgb)
    big[45:195, 157:287] = cat
    m = np.zeros(rgb.shape[:2], np.float32)
    cv2.ellipse(m, (222, 118), (55, 72), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), 3)[..., None]
    return (rgb * (1 - m) + big * m).astype(np.uint8)


def _visor(rgb: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[EYE_BAND] = (20, 20, 25)
    return out


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


def _u8(t: torch.Tensor) -> np.ndarray:
    return (t[0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def pairs(astronaut):
    """(original, edit) with the same drift and garment edit: face kept, replaced, visor."""
    edited = _garment_edit(astronaut)
    return {
        "kept": _drift(edited, 1),
        "replaced": _drift(_cat_face(edited), 1),
        "visor": _drift(_visor(edited), 1),
    }


def _run(original: np.ndarray, edited: np.ndarray, faces="auto"):
    return auto(_tensor(original), _tensor(edited), faces=faces, face_detector="mtcnn")


# ------------------------------------------------------------------------------------------ rules


def test_decide_rules_in_order():
    assert not FI.decide(FI.FaceEvidence(0.1, 0.2, 0.0)).kept  # new structure
    assert FI.decide(FI.FaceEvidence(0.1, 0.2, 0.0)).reason == "changed structure"
    painted = FI.decide(FI.FaceEvidence(0.99, 5.0, 0.0))  # same edges, new colour
    assert not painted.kept and painted.reason == "changed colour"
    drift = FI.decide(FI.FaceEvidence(0.9, 0.7, 0.3))
    assert drift.kept and not drift.partial and drift.reason == "drift only"
    new_head = FI.decide(FI.FaceEvidence(0.5, 0.5, 0.8))  # ambiguous, inside a change
    assert not new_head.kept and new_head.reason == "inside a changed region"
    glasses = FI.decide(FI.FaceEvidence(0.5, 0.5, 0.1))  # ambiguous: partly covered
    assert glasses.kept and glasses.partial
    assert FI.decide(None).kept  # too small to judge: protect


@pytest.mark.parametrize("s, kept", [(FI.STRUCTURE_CHANGED - 1e-3, False), (FI.STRUCTURE_KEPT, True)])
def test_structure_thresholds_are_the_boundaries(s, kept):
    assert FI.decide(FI.FaceEvidence(s, 0.0, 0.0)).kept is kept


def test_resolve_mode_maps_the_old_switch_and_rejects_others():
    assert FI.resolve_mode(True) == "auto" and FI.resolve_mode(False) == "never"
    assert FI.resolve_mode("true") == "auto" and FI.resolve_mode(" ALWAYS ") == "always"
    with pytest.raises(ValueError, match="auto, always, never"):
        FI.resolve_mode("sometimes")


def test_structure_agreement_sees_edges_not_tone():
    rng = np.random.default_rng(3)
    face = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2.0)
    inside = np.ones(face.shape, bool)
    assert FI.structure_agreement(face, face * 0.8 + 0.1, inside) == pytest.approx(1.0, abs=1e-5)
    assert FI.structure_agreement(face, 1.0 - face, inside) == pytest.approx(-1.0, abs=1e-5)
    other = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2.0)
    assert abs(FI.structure_agreement(face, other, inside)) < 0.2
    assert FI.structure_agreement(face, np.zeros_like(face), inside) == 0.0


def test_summary_words():
    kept = FI.FaceDecision(True, "drift only")
    gone = FI.FaceDecision(False, "changed structure")
    assert FI.summary([kept, kept, gone]) == "2 faces kept, 1 face edited: changed structure"
    assert FI.summary([]) == "no face found"
    # over the frames of a batch a face followed from frame to frame counts once
    tracked = [FI.FaceDecision(True, "drift only", track=0), FI.FaceDecision(False, "changed structure", track=1)]
    assert FI.summary(tracked * 24, frames=24) == "1 face kept, 1 face edited: changed structure (24 frames)"
    partly = FI.FaceDecision(True, "partly covered", partial=True)
    assert FI.summary([partly]).startswith("1 face partly edited")


def test_cover_needs_a_real_part_of_the_face():
    ellipse = (50.0, 50.0, 20.0, 26.0, 0.0)
    change = np.zeros((100, 100), np.float32)
    kept = FI.FaceDecision(True, "drift only")
    change[20:45, :] = 30.0  # a helmet down to the eyes: 40 % of the face
    helmet = FI.with_cover(kept, ellipse, change, high=6.0)
    assert helmet.partial and helmet.cover is not None
    (y0, _, x0, _), part = helmet.cover
    assert part[30 - y0, 50 - x0] and not part[65 - y0, 50 - x0]  # forehead covered, mouth not
    sliver = np.zeros_like(change)
    sliver[20:27, :] = 30.0  # an edit that only meets the face's top
    assert FI.with_cover(kept, ellipse, sliver, high=6.0).cover is None
    drift = np.full_like(change, 11.0)  # strong drift, still under twice the level
    assert FI.with_cover(kept, ellipse, drift, high=6.0).cover is None
    assert FI.with_cover(FI.FaceDecision(False, "changed structure"), ellipse, change, 6.0).cover is None


# ------------------------------------------------------------------------------------------ pipeline


def test_kept_face_is_restored_exactly(astronaut, pairs):
    res = _run(astronaut, pairs["kept"])
    decisions = res.face_info["decisions"][0]
    assert len(decisions) == 1 and decisions[0].kept and not decisions[0].partial, decisions
    out = _u8(res.image)
    assert np.array_equal(out[FACE_CORE], astronaut[FACE_CORE]), "the kept face is not the original"
    # and the garment edit is there: blue where the suit was orange
    assert out[GARMENT][..., 2].mean() > out[GARMENT][..., 0].mean() + 40
    assert "1 face kept" in res.describe()


def test_replaced_face_comes_from_the_edit(astronaut, pairs):
    res = _run(astronaut, pairs["replaced"])
    decisions = res.face_info["decisions"][0]
    assert len(decisions) == 1 and not decisions[0].kept, decisions
    out, aligned = _u8(res.image), _u8(res.diff.aligned)
    core = (slice(FACE_CORE[0].start + 5, FACE_CORE[0].stop - 5), slice(FACE_CORE[1].start + 5, FACE_CORE[1].stop - 5))
    assert np.abs(out[core].astype(int) - aligned[core].astype(int)).max() <= 2, "the new face was not taken whole"
    assert res.mask[0][core].min() > 0.99
    assert "1 face edited: changed structure" in res.describe()
    # the same pair with every face protected keeps the original face: the decision is what differs
    always = _u8(_run(astronaut, pairs["replaced"], faces="always").image)
    assert np.array_equal(always[FACE_CORE], astronaut[FACE_CORE])


def test_visor_over_the_eyes_is_taken_from_the_edit(astronaut, pairs):
    res = _run(astronaut, pairs["visor"])
    decisions = res.face_info["decisions"][0]
    assert len(decisions) == 1 and (not decisions[0].kept or decisions[0].partial), decisions
    out = _u8(res.image)
    band = (slice(EYE_BAND[0].start + 4, EYE_BAND[0].stop - 4), slice(EYE_BAND[1].start + 6, EYE_BAND[1].stop - 6))
    assert out[band].mean() < 45, "the visor was cut out of the result"


def test_face_behind_a_visor_that_the_edit_kept_is_protected(astronaut):
    """The original already wears the visor (no eyes to see): the edit only drifts it, so it is kept."""
    original = _visor(astronaut)
    res = _run(original, _drift(_garment_edit(original), 3))
    decisions = res.face_info["decisions"][0]
    assert len(decisions) == 1 and decisions[0].kept and not decisions[0].partial, decisions
    assert np.array_equal(_u8(res.image)[FACE_CORE], original[FACE_CORE])


def test_never_protects_nothing_and_always_everything(astronaut, pairs):
    never = _run(astronaut, pairs["kept"], faces=False)
    assert never.face_info["detector"] == "off" and float(never.faces.sum()) == 0.0
    always = _run(astronaut, pairs["kept"], faces="always")
    assert "decisions" not in always.face_info and always.faces[0][FACE_CORE].min() > 0.99


def test_face_cut_by_the_frame_edge_is_protected(astronaut):
    """Half a face at the left edge (MTCNN finds it only on a padded copy): kept, protected."""
    original = np.ascontiguousarray(astronaut[:, 215:])
    edited = np.ascontiguousarray(_drift(_garment_edit(astronaut), 2)[:, 215:])
    det = load_detector("mtcnn")
    found = det.detect(original)
    assert found and found[0].box[0] < 5, f"the half face at the edge was not found: {found}"
    res = auto(_tensor(original), _tensor(edited), face_detector="mtcnn")
    assert res.face_info["decisions"][0][0].kept
    core = (FACE_CORE[0], slice(0, 35))
    assert np.array_equal(_u8(res.image)[core], original[core])


# ------------------------------------------------------------------------------------------ video


def _blend_cat(rgb: np.ndarray, alpha: float) -> np.ndarray:
    """The garment edit with the cat's face blended in at ``alpha``: a video editor that transforms
    the face a little less in one frame than in the others."""
    edited = _garment_edit(rgb).astype(np.float32)
    return (alpha * _cat_face(_garment_edit(rgb)) + (1 - alpha) * edited).astype(np.uint8)


def test_face_tracks_steady_one_frame_that_alone_would_flip():
    changed, kept = FI.FaceEvidence(0.05, 4.0, 0.7), FI.FaceEvidence(0.9, 1.2, 0.37)
    box, scene = (100, 80, 160, 150), np.random.default_rng(0).random((48, 64, 3))
    noise = np.random.default_rng(2)

    def frame() -> np.ndarray:
        """One frame of a shot of ``scene``: the same picture with its own sensor noise."""
        return scene + noise.normal(0, 0.01, scene.shape)

    tracks = FI.FaceTracks()
    seq = [changed, changed, kept, changed, changed]
    decided = [FI.decide(tracks.steady(i, frame(), [box], [ev])[0][0]) for i, ev in enumerate(seq)]
    assert FI.decide(kept).kept and all(not d.kept for d in decided), decided
    # a face elsewhere in the frame is another face, with its own decision
    tracks = FI.FaceTracks()
    for i in range(3):
        (a, b), _ = tracks.steady(i, frame(), [box, (300, 80, 360, 150)], [changed, kept])
    assert not FI.decide(a).kept and FI.decide(b).kept
    # the very same picture again (one original, several edits) is not a video: judged alone
    tracks = FI.FaceTracks()
    tracks.steady(0, scene, [box], [changed])
    tracks.steady(1, scene, [box], [changed])
    assert FI.decide(tracks.steady(2, scene, [box], [kept])[0][0]).kept
    # after a cut (another picture) the face is judged on its own frame again
    tracks = FI.FaceTracks()
    other = np.random.default_rng(1).random((48, 64, 3))
    tracks.steady(0, frame(), [box], [changed])
    tracks.steady(1, frame(), [box], [changed])
    assert FI.decide(tracks.steady(2, other, [box], [kept])[0][0]).kept
    # and so is a face that was last seen too long ago
    tracks = FI.FaceTracks()
    tracks.steady(0, frame(), [box], [changed])
    for i in range(1, FI.TRACK_GAP + 2):
        tracks.steady(i, frame(), [], [])
    assert FI.decide(tracks.steady(FI.TRACK_GAP + 2, frame(), [box], [kept])[0][0]).kept


def test_missed_faces_are_filled_only_inside_a_short_gap_of_one_shot():
    from smartmask.faces import fill_missed_faces

    a, b = Face((100, 80, 160, 150), None, 0.9), Face((110, 80, 170, 150), None, 0.8)
    shot = FI.thumbnail(np.random.default_rng(0).random((48, 64, 3)))
    cut = FI.thumbnail(np.random.default_rng(1).random((48, 64, 3)))
    filled = fill_missed_faces([[a], [], [], [b]], [shot] * 4)
    assert sorted(filled) == [1, 2] and filled[1][0].box == (a.box[0] + 10 / 3, 80, a.box[2] + 10 / 3, 150)
    assert filled[2][0].score == 0.8
    assert fill_missed_faces([[a], [], [], [], [b]], [shot] * 5) == {}, "a longer absence is not a miss"
    assert fill_missed_faces([[a], [], [b]], [shot, cut, shot]) == {}, "not across a cut"
    assert fill_missed_faces([[a], [], [b]], [shot, cut, cut]) == {}, "not across a cut before the gap"
    far = Face((300, 80, 360, 150), None, 0.9)
    assert fill_missed_faces([[a], [], [far]], [shot] * 3) == {}, "another face is not the same face"
    assert fill_missed_faces([[a], [b], [a]], [shot] * 3) == {}, "a face found is not doubled"


def test_video_face_decision_is_steady_across_frames_and_chunks(astronaut):
    """Five frames of a clip whose face the editor turned into a cat, less so in frame 2: alone,
    frame 2's face would be kept (the original pasted into a cat clip for one frame); in the clip it
    is edited like its neighbours, also when the frames run in chunks of two."""
    alphas = (1.0, 1.0, 0.4, 1.0, 1.0)
    rng = np.random.default_rng(5)
    # the clip's frames: the same scene, each with its own sensor noise
    frames = [np.clip(astronaut + rng.normal(0, 1.0, astronaut.shape), 0, 255).astype(np.uint8) for _ in alphas]
    edits = [_drift(_blend_cat(f, a), 10 + k) for k, (f, a) in enumerate(zip(frames, alphas))]
    alone = _run(frames[2], edits[2]).face_info["decisions"][0][0]
    assert alone.kept, f"frame 2 alone should look kept, or this test proves nothing: {alone}"
    o = torch.from_numpy(np.stack(frames).astype(np.float32) / 255.0)
    e = torch.from_numpy(np.stack(edits).astype(np.float32) / 255.0)
    # one original under five edits is a batch of variations, not a video: each is judged alone
    variations = auto(o[2:3], e, face_detector="mtcnn", chunk=2)
    assert variations.face_info["decisions"][2][0].kept, "a variation took its neighbours' decision"
    assert not variations.face_info["decisions"][0][0].kept
    res = auto(o, e, face_detector="mtcnn", chunk=2)
    decisions = [ds[0] for ds in res.face_info["decisions"]]
    assert all(not d.kept for d in decisions), decisions
    assert res.face_info["summary"] == "1 face edited: changed structure (5 frames)"
    core = (slice(FACE_CORE[0].start + 5, FACE_CORE[0].stop - 5), slice(FACE_CORE[1].start + 5, FACE_CORE[1].stop - 5))
    assert float(res.mask[:, core[0], core[1]].min()) > 0.99, "a frame's face was not taken from the edit"


# ------------------------------------------------------------------------------------------ Face Guard


def test_face_guard_modes(astronaut, pairs):
    o = _tensor(astronaut)
    ones = torch.ones(o.shape[:3])
    for name, face_kept in (("kept", True), ("replaced", False)):
        guarded, faces, info = guard_faces(o, ones, detector="mtcnn", edited=_tensor(pairs[name]), mode="auto")
        assert bool(faces[0][FACE_CORE].min() > 0.99) is face_kept, (name, info.get("summary"))
        assert bool(guarded[0][FACE_CORE].max() < 0.01) is face_kept
        assert ("kept" if face_kept else "edited") in info["summary"]
    # without the edit nothing can be judged: auto protects every face, and says why
    _, faces, info = guard_faces(o, ones, detector="mtcnn", mode="auto")
    assert faces[0][FACE_CORE].min() > 0.99 and "no edited image" in info["summary"]
    _, faces, info = guard_faces(o, ones, detector="mtcnn", edited=_tensor(pairs["replaced"]), mode="always")
    assert faces[0][FACE_CORE].min() > 0.99
    guarded, faces, info = guard_faces(o, ones, detector="mtcnn", mode="never")
    assert float(faces.sum()) == 0.0 and float(guarded.min()) == 1.0


def test_mirror_pass_maps_faces_back_with_landmarks_in_order(astronaut):
    det = load_detector("mtcnn").detector
    found = det._mirrored(np.ascontiguousarray(astronaut))
    assert found, "the mirrored astronaut has no face"
    face = max(found, key=lambda f: f.score)
    (rx, _), (lx, _), _, (mrx, _), (mlx, _) = face.landmarks
    assert rx < lx and mrx < mlx, "the subject's right eye and mouth corner must be image-left again"
    assert 170 <= (face.box[0] + face.box[2]) / 2 <= 275, face.box
    assert isinstance(face, Face)
