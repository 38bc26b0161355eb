"""The YuNet model file: refused when its sha256 differs, downloaded with a total deadline.

No test reaches the network: the downloads come from a ``file://`` URL or from a small HTTP
server on 127.0.0.1 that answers slowly or not at all.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from smartmask import face_detect
from smartmask.face_detect import YUNET_FILE, download_yunet, find_yunet, load_detector

from yunet_model import MISSING_REASON, find_yunet_dir

# the real model file, wherever the tests find it (tests/yunet_model.py); None on a machine without it
_MODEL_DIR = find_yunet_dir()
MODEL = _MODEL_DIR / YUNET_FILE if _MODEL_DIR else None
needs_model = pytest.mark.skipif(MODEL is None, reason=MISSING_REASON)


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    """Each test is a fresh process as far as 'once per process' goes."""
    monkeypatch.setattr(face_detect, "_download_tried", set())
    monkeypatch.setattr(face_detect, "_said", set())
    monkeypatch.setattr(face_detect, "_hash_ok", {})
    monkeypatch.delenv("SMARTMASK_OFFLINE", raising=False)
    monkeypatch.delenv("SMARTMASK_YUNET_URL", raising=False)


def test_a_model_file_with_another_sha256_is_not_used_and_said_once(tmp_path, caplog):
    bad = tmp_path / YUNET_FILE
    bad.write_bytes(b"<html>proxy error page</html>")
    with caplog.at_level(logging.WARNING, logger="smartmask.faces"):
        assert find_yunet([tmp_path]) is None
        for _ in range(3):  # three prompts
            det = load_detector("auto", [str(tmp_path)])
            assert det.name == "mtcnn" and "wrong sha256" in det.message
    said = [r.getMessage() for r in caplog.records if "expected sha256" in r.getMessage()]
    assert len(said) == 1 and str(bad) in said[0] and "not used" in said[0]
    assert sum("using the offline MTCNN" in r.getMessage() for r in caplog.records) == 1
    # the user's file is never downloaded over
    assert bad.read_bytes() == b"<html>proxy error page</html>"


@needs_model
def test_a_good_file_in_a_later_folder_is_used_after_a_bad_one(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / YUNET_FILE).write_bytes(b"garbage")
    assert find_yunet([tmp_path / "a", MODEL.parent]) == str(MODEL)


@needs_model
def test_download_from_a_file_url_is_announced_and_checked(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="smartmask.faces"):
        path = download_yunet(tmp_path, url=MODEL.as_uri())
        assert download_yunet(tmp_path, url=MODEL.as_uri()) is None, "tried once per process"
    assert Path(path).read_bytes() == MODEL.read_bytes()
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("downloading the YuNet face detector" in m for m in msgs) == 1
    assert sum("downloaded" in m and "sha256 checked" in m for m in msgs) == 1


@needs_model
def test_the_mirror_url_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTMASK_YUNET_URL", MODEL.as_uri())
    assert load_detector("auto", [str(tmp_path)]).name == "yunet"
    assert (tmp_path / YUNET_FILE).is_file()


class _Slow(http.server.BaseHTTPRequestHandler):
    """Sends the headers, then one byte every 0.2 s: each read is quick, the whole is not."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "230000")
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *a):
        pass


@pytest.fixture
def slow_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/{YUNET_FILE}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def black_hole():
    """A server that accepts the connection and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    yield f"http://127.0.0.1:{s.getsockname()[1]}/{YUNET_FILE}"
    s.close()


@pytest.mark.parametrize("server", ["slow_server", "black_hole"])
def test_a_slow_or_silent_server_is_given_up_at_the_deadline(tmp_path, caplog, request, server):
    url = request.getfixturevalue(server)
    with caplog.at_level(logging.WARNING, logger="smartmask.faces"):
        # the socket timeout (5 s) is longer than the deadline (1 s): the deadline decides
        assert download_yunet(tmp_path, url=url, timeout=5.0, deadline=1.0) is None
    msgs = [r.getMessage() for r in caplog.records]
    assert any("downloading the YuNet face detector" in m for m in msgs)
    assert any("could not download" in m and "TimeoutError" in m and "within 1 s" in m for m in msgs)
    assert list(tmp_path.iterdir()) == [], "nothing half-written is left behind"


def test_detection_still_works_after_a_failed_download(tmp_path, slow_server, monkeypatch):
    monkeypatch.setattr(face_detect, "DOWNLOAD_DEADLINE_S", 1.0)
    monkeypatch.setenv("SMARTMASK_YUNET_URL", slow_server)
    det = load_detector("auto", [str(tmp_path)])
    assert det.name == "mtcnn" and "could not be downloaded" in det.message
    assert det.detect(np.zeros((64, 64, 3), np.uint8)) == []
