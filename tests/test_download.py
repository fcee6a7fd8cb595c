"""Tests for spade_lesson/data/download/ against a real HTTP server on 127.0.0.1 serving archives built here."""

from __future__ import annotations

import hashlib
import io
import json
import runpy
import socket
import stat
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hostile import png_claiming
from PIL import Image

from spade_lesson.cli.download import run as main
from spade_lesson.data import load_dataset
from spade_lesson.data.classes import FACADES_CLASSES
from spade_lesson.data.download import extract as extract_module
from spade_lesson.data.download import fetch
from spade_lesson.data.download.extract import extract
from spade_lesson.data.layout import MARKER

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- a tiny HTTP server with Range, drops and a counter


class _Handler(BaseHTTPRequestHandler):
    """Serves server.files; honours Range unless the path is in server.ignore_range; drops paths in server.drop_once."""

    def do_GET(self) -> None:
        """Answer one GET (200, 206, 404 or 416), recording (path, Range header) in server.requests."""
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, wanted = 0, self.headers.get("Range")
        if wanted and self.path not in server.ignore_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in server.drop_once:  # send half the bytes, then hang up
            server.drop_once.discard(self.path)
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server():
    """A running server; tests fill server.files {"/name": bytes} and read server.requests."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.drop_once, httpd.ignore_range = {}, [], set(), set()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Retries wait 0 s here instead of seconds."""
    monkeypatch.setattr(fetch, "BACKOFF_S", 0.0)


def _url(server, path: str) -> str:
    """The server's URL for path."""
    return f"http://127.0.0.1:{server.server_port}{path}"


# ---------------------------------------------------------------- tiny archives


def _jpeg(seed: int, size=(8, 6)) -> bytes:
    """A small random RGB JPEG."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png(array: np.ndarray, palette: bool = False) -> bytes:
    """array (H, W) uint8 or (H, W, 3) as a PNG; palette=True stores an indexed ("P") PNG like CMP's labels."""
    image = Image.fromarray(array.astype(np.uint8))
    if palette:
        image = image.convert("P")
        image.putdata(array.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ids(values: list[int], shape=(6, 8)) -> np.ndarray:
    """A (H, W) uint8 label map cycling through values."""
    return np.resize(np.array(values, dtype=np.uint8), shape)


def _zip(entries: dict[str, bytes]) -> bytes:
    """A zip archive holding entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(entries: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A .tar.gz archive holding entries plus extra header-only members (links, devices)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in extra:
            archive.addfile(info)
    return buffer.getvalue()


def _custom_entries(prefix: str = "") -> dict[str, bytes]:
    """An instructor's archive: images/ + labels/ with two pairs (class ids 0..2 and 255)."""
    return {f"{prefix}images/a.jpg": _jpeg(1), f"{prefix}labels/a.png": _png(_ids([0, 1, 255])),
            f"{prefix}images/b.png": _png(np.full((6, 8, 3), 9)), f"{prefix}labels/b.png": _png(_ids([2]))}


def _run(*argv: str, capsys) -> tuple[int, str, str]:
    """main(argv) -> (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _error_line(err: str) -> str:
    """The one 'error:' line of stderr (asserting there is exactly one and no traceback)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def _label(path: Path) -> np.ndarray:
    """A prepared label PNG as an array, checking it is single-channel."""
    with Image.open(path) as image:
        assert image.mode == "L"
        return np.asarray(image)


# ---------------------------------------------------------------- the custom archive, resume and retry


def test_custom_archive_prepared_in_the_folder_format(server, tmp_path, capsys):
    data = _zip(_custom_entries("mine/"))
    server.files["/mine.zip"] = data
    status, _, _ = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                        "--sha256", hashlib.sha256(data).hexdigest(), capsys=capsys)
    assert status == 0
    out_dir = tmp_path / "mine"
    info = json.loads((out_dir / "dataset.json").read_text())
    assert info["class_names"] == ["class 0", "class 1", "class 2"] and len(info["palette"]) == 3
    assert info["ignore_index"] == 255 and info["name"] == "mine"
    assert sorted(p.name for p in (out_dir / "train" / "images").iterdir()) == ["a.jpg", "b.png"]
    assert (out_dir / "train" / "images" / "a.jpg").read_bytes() == _jpeg(1)
    assert np.array_equal(_label(out_dir / "train" / "labels" / "a.png"), _ids([0, 1, 255]))
    assert (out_dir / MARKER).is_file() and not (out_dir / "val").exists()
    assert (tmp_path / "downloads" / "mine-mine.zip").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads", "mine"]  # no staging left behind


def test_tar_with_train_and_val_folders_and_its_own_dataset_json(server, tmp_path, capsys):
    entries = {f"set/{split}/{kind}": data for split in ("train", "val")
               for kind, data in (("images/x.jpg", _jpeg(2)), ("labels/x.png", _png(_ids([0, 3]))))}
    entries["set/dataset.json"] = json.dumps({"class_names": ["sky", "sea", "sand", "rock"],
                                              "palette": [[1, 2, 3]] * 4}).encode()
    server.files["/set.tar.gz"] = _tar(entries)
    status, _, _ = _run("--url", _url(server, "/set.tar.gz"), "--name", "set", "--root", str(tmp_path), capsys=capsys)
    assert status == 0
    info = json.loads((tmp_path / "set" / "dataset.json").read_text())
    assert info["class_names"] == ["sky", "sea", "sand", "rock"] and info["palette"] == [[1, 2, 3]] * 4
    for split in ("train", "val"):
        assert np.array_equal(_label(tmp_path / "set" / split / "labels" / "x.png"), _ids([0, 3]))


def test_dropped_connection_resumes_with_range(server, tmp_path, capsys, monkeypatch):
    data = _zip(_custom_entries())
    server.files["/mine.zip"] = data
    server.drop_once.add("/mine.zip")
    bars = []

    class RecordingBar(fetch.tqdm):
        def __init__(self, *args, **kwargs):
            if kwargs.get("unit") == "B":
                bars.append((kwargs["total"], kwargs["initial"]))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(fetch, "tqdm", RecordingBar)
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 0, err
    half = len(data) // 2
    assert server.requests == [("/mine.zip", None), ("/mine.zip", f"bytes={half}-")]
    assert bars == [(len(data), 0), (len(data), half)]  # totals from Content-Length, then Content-Range
    assert (tmp_path / "downloads" / "mine-mine.zip").read_bytes() == data


def test_server_ignoring_range_restarts_from_zero(server, tmp_path, capsys):
    data = _zip(_custom_entries())
    server.files["/mine.zip"] = data
    server.ignore_range.add("/mine.zip")
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "mine-mine.zip.part").write_bytes(b"stale bytes from another file")
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 0, err
    assert server.requests[0][1] == "bytes=29-"
    assert (tmp_path / "downloads" / "mine-mine.zip").read_bytes() == data


def test_complete_part_file_and_416_needs_no_body(server, tmp_path, capsys):
    data = _zip(_custom_entries())
    server.files["/mine.zip"] = data
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "mine-mine.zip.part").write_bytes(data)
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 0, err
    assert server.requests == [("/mine.zip", f"bytes={len(data)}-")]  # answered 416: the file was already whole
    assert (tmp_path / "downloads" / "mine-mine.zip").read_bytes() == data


def test_rerun_with_everything_in_place_is_a_no_op(server, tmp_path, capsys):
    server.files["/mine.zip"] = _zip(_custom_entries())
    argv = ("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path))
    assert _run(*argv, capsys=capsys)[0] == 0
    requests = len(server.requests)
    status, out, _ = _run(*argv, capsys=capsys)
    assert status == 0 and out.strip() == f"already prepared: {tmp_path / 'mine'}"
    assert len(server.requests) == requests


# ---------------------------------------------------------------- the paper's datasets, from look-alike archives


def test_facades_base_to_train_extended_to_val(server, tmp_path, capsys):
    label = _ids([0, 1, 2, 12, 13])  # 0 and 13 are not CMP classes
    for kind, letter in (("base", "b"), ("extended", "x")):
        entries = {f"{kind}/cmp_{letter}000{k}.{ext}": data for k in (1, 2)
                   for ext, data in (("jpg", _jpeg(k)), ("png", _png(label, palette=True)), ("xml", b"<xml/>"))}
        entries.update({"label_names.txt": b"1 background\n", "readme.txt": b"CMP\n"})
        server.files[f"/CMP_facade_DB_{kind}.zip"] = _zip(entries)
    status, _, err = _run("facades", "--root", str(tmp_path), "--mirror", _url(server, "/"), capsys=capsys)
    assert status == 0, err
    out_dir = tmp_path / "facades"
    info = json.loads((out_dir / "dataset.json").read_text())
    assert info["class_names"] == list(FACADES_CLASSES) and len(info["class_names"]) == 12
    assert sorted(p.name for p in (out_dir / "train" / "images").iterdir()) == ["cmp_b0001.jpg", "cmp_b0002.jpg"]
    assert sorted(p.name for p in (out_dir / "val" / "labels").iterdir()) == ["cmp_x0001.png", "cmp_x0002.png"]
    assert np.array_equal(_label(out_dir / "train" / "labels" / "cmp_b0001.png"), _ids([255, 0, 1, 11, 255]))
    val = load_dataset("facades", root=tmp_path, split="val", size=4)  # the DATA engineer's reader takes it as is
    assert len(val) == 2 and val.num_classes == 12 and val[0]["label"].shape == (4, 4)


def test_ade20k_shifts_ids_and_keeps_both_splits(server, tmp_path, capsys):
    top = "ADEChallengeData2016"
    entries = {f"{top}/objectInfo150.txt": b"Idx\tRatio\n", f"{top}/sceneCategories.txt": b"x y\n"}
    for split, short in (("training", "train"), ("validation", "val")):
        for k in (1, 2):
            stem = f"ADE_{short}_0000000{k}"
            entries[f"{top}/images/{split}/{stem}.jpg"] = _jpeg(k)
            entries[f"{top}/annotations/{split}/{stem}.png"] = _png(_ids([0, 1, 150]))
    server.files[f"/{top}.zip"] = _zip(entries)
    status, _, err = _run("ade20k", "--root", str(tmp_path), "--mirror", _url(server, ""), capsys=capsys)
    assert status == 0, err
    info = json.loads((tmp_path / "ade20k" / "dataset.json").read_text())
    assert len(info["class_names"]) == 150 and info["class_names"][:3] == ["wall", "building", "sky"]
    assert np.array_equal(_label(tmp_path / "ade20k" / "val" / "labels" / "ADE_val_00000002.png"),
                          _ids([255, 0, 149]))
    assert (tmp_path / "ade20k" / "train" / "images" / "ADE_train_00000001.jpg").read_bytes() == _jpeg(1)


def _cityscapes_zips(folder: Path) -> None:
    """Tiny gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip with the official layout (test split included)."""
    labels, images = {"license.txt": b"terms\n"}, {"license.txt": b"terms\n"}
    for split, city in (("train", "aachen"), ("val", "frankfurt"), ("test", "berlin")):
        stem = f"{city}_000000_000019"
        for kind, data in (("labelIds.png", _png(_ids([0, 7, 33, 34]))), ("color.png", _png(np.zeros((6, 8, 3)))),
                           ("instanceIds.png", _png(_ids([26]))), ("polygons.json", b"{}")):
            labels[f"gtFine/{split}/{city}/{stem}_gtFine_{kind}"] = data
        images[f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"] = _png(np.full((6, 8, 3), 40))
    (folder / "gtFine_trainvaltest.zip").write_bytes(_zip(labels))
    (folder / "leftImg8bit_trainvaltest.zip").write_bytes(_zip(images))


def test_cityscapes_from_local_zips(tmp_path, capsys):
    local = tmp_path / "Downloads"
    local.mkdir()
    _cityscapes_zips(local)
    status, _, err = _run("cityscapes", "--root", str(tmp_path / "data"), "--local", str(local), capsys=capsys)
    assert status == 0, err
    out_dir = tmp_path / "data" / "cityscapes"
    info = json.loads((out_dir / "dataset.json").read_text())
    assert len(info["class_names"]) == 35 and info["class_names"][7] == "road" and info["palette"][7] == [128, 64, 128]
    assert sorted(p.name for p in out_dir.iterdir()) == [MARKER, "dataset.json", "train", "val"]
    assert np.array_equal(_label(out_dir / "train" / "labels" / "aachen_000000_000019.png"), _ids([0, 7, 33, 255]))
    assert (out_dir / "val" / "images" / "frankfurt_000000_000019.png").is_file()
    assert (local / "leftImg8bit_trainvaltest.zip").is_file()  # the user's zips stay where they were


def test_cityscapes_without_files_explains_how_to_get_them(tmp_path, capsys):
    status, out, err = _run("cityscapes", "--root", str(tmp_path), capsys=capsys)
    assert status == 1
    assert "register" in out and "gtFine_trainvaltest.zip" in out and "leftImg8bit_trainvaltest.zip" in out
    assert str(tmp_path / "downloads") in _error_line(err)


# ---------------------------------------------------------------- hostile and broken archives


def _zip_symlink(name: str, target: str) -> bytes:
    """A zip holding one unix symlink entry name -> target, then a file written through it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
        archive.writestr(f"{name}/evil.txt", b"pwned")
    return buffer.getvalue()


def _tar_link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    """A tar link header name -> target (kind tarfile.SYMTYPE or LNKTYPE)."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _device() -> tarfile.TarInfo:
    """A tar character-device header."""
    info = tarfile.TarInfo("images/tty")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 5, 0
    return info


@pytest.mark.parametrize("kind", ["zip-absolute", "zip-dotdot", "zip-symlink", "tar-absolute", "tar-dotdot",
                                  "tar-symlink", "tar-hardlink", "tar-device"])
def test_hostile_archive_is_refused_and_writes_nothing_outside(server, tmp_path, capsys, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    good = _custom_entries()
    archives = {
        "zip-absolute": lambda: _zip({**good, str(outside / "evil.txt"): b"pwned"}),
        "zip-dotdot": lambda: _zip({**good, "images/../../../outside/evil.txt": b"pwned"}),
        "zip-symlink": lambda: _zip_symlink("escape", str(outside)),
        "tar-absolute": lambda: _tar({**good, str(outside / "evil.txt"): b"pwned"}),
        "tar-dotdot": lambda: _tar({**good, "../../outside/evil.txt": b"pwned"}),
        "tar-symlink": lambda: _tar({"escape/evil.txt": b"pwned"}, [_tar_link("escape", "../../outside",
                                                                              tarfile.SYMTYPE)]),
        "tar-hardlink": lambda: _tar(good, [_tar_link("images/c.jpg", "../outside/secret", tarfile.LNKTYPE)]),
        "tar-device": lambda: _tar(good, [_device()]),
    }
    server.files["/bad"] = archives[kind]()
    root = tmp_path / "data"
    status, _, err = _run("--url", _url(server, "/bad"), "--name", "bad", "--root", str(root), capsys=capsys)
    assert status == 1
    assert "refusing to extract" in _error_line(err)
    assert list(outside.iterdir()) == [] and not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in root.iterdir()) == ["downloads"]  # no dataset, no staging folder


def test_links_inside_the_archive_become_plain_copies(tmp_path):
    archive = tmp_path / "links.tar.gz"
    archive.write_bytes(_tar({"images/a.jpg": b"jpeg bytes"},
                             [_tar_link("images/b.jpg", "a.jpg", tarfile.SYMTYPE),
                              _tar_link("images/c.jpg", "images/a.jpg", tarfile.LNKTYPE)]))
    out = extract(archive, tmp_path / "out")
    for name in ("b.jpg", "c.jpg"):
        assert not (out / "images" / name).is_symlink()
        assert (out / "images" / name).read_bytes() == b"jpeg bytes"


def test_truncated_zip_is_rejected_and_never_gets_its_final_name(server, tmp_path, capsys):
    data = _zip(_custom_entries())
    server.files["/mine.zip"] = data[: len(data) // 2]
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 1 and "not a complete zip or tar archive" in _error_line(err)
    assert list((tmp_path / "downloads").iterdir()) == []  # neither mine.zip nor a stale .part
    assert not (tmp_path / "mine").exists()


def test_wrong_sha256_is_rejected(server, tmp_path, capsys):
    server.files["/mine.zip"] = _zip(_custom_entries())
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          "--sha256", "0" * 64, capsys=capsys)
    line = _error_line(err)
    assert status == 1 and "sha256" in line and "0" * 64 in line
    assert list((tmp_path / "downloads").iterdir()) == []


def test_archive_without_images_and_labels(server, tmp_path, capsys):
    server.files["/notes.zip"] = _zip({"notes/readme.txt": b"hello", "notes/pictures/a.jpg": _jpeg(3)})
    status, _, err = _run("--url", _url(server, "/notes.zip"), "--name", "notes", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 1 and "no images/ and labels/" in _error_line(err)
    assert not (tmp_path / "notes").exists()


def test_image_without_label_names_it(server, tmp_path, capsys):
    entries = _custom_entries()
    del entries["labels/b.png"]
    server.files["/mine.zip"] = _zip(entries)
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 1 and "labels/b.png" in _error_line(err)


def test_two_images_with_one_stem_are_refused(server, tmp_path, capsys):
    server.files["/mine.zip"] = _zip({**_custom_entries(), "images/a.png": _png(np.zeros((6, 8, 3)))})
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 1 and "'a'" in _error_line(err)


def test_404_is_one_line_naming_the_url(server, tmp_path, capsys):
    url = _url(server, "/missing.zip")
    status, _, err = _run("--url", url, "--name", "missing", "--root", str(tmp_path), capsys=capsys)
    assert status == 1 and err.strip() == _error_line(err) and url in err and "404" in err
    assert len(server.requests) == 1  # a 404 is not retried


def test_refused_connection_is_retried_then_reported(tmp_path, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mine.zip"
    status, _, err = _run("--url", url, "--name", "mine", "--root", str(tmp_path), capsys=capsys)
    assert status == 1 and url in _error_line(err) and "refused" in _error_line(err)
    assert err.count("retry") == fetch.RETRIES - 1


def test_thin_script_runs_main(server, tmp_path, monkeypatch, capsys):
    url = _url(server, "/missing.zip")
    monkeypatch.setattr(sys, "argv", ["download.py", "--url", url, "--name", "x", "--root", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO / "data" / "download.py"), run_name="__main__")
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {url}: HTTP 404 Not Found; check the URL (or --mirror), or put the archive in "
        f"{tmp_path / 'downloads'} by hand and run again"]


def test_cli_forwards_to_download(tmp_path, capsys):
    from spade_lesson.cli import main as cli_main

    assert cli_main(["download", "cityscapes", "--root", str(tmp_path)]) == 1
    assert "register" in capsys.readouterr().out


# ---------------------------------------------------------------- COCO-Stuff and ADE20K-outdoor


def _coco_archives(server) -> None:
    """Tiny train2017.zip, val2017.zip, stuffthingmaps_trainval2017.zip and annotations_trainval2017.zip."""
    maps, notes = {}, {}
    for split in ("train", "val"):
        images = {}
        coco = {"images": [], "annotations": []}
        for k in (1, 2):
            stem = f"00000000000{k}"
            images[f"{split}2017/{stem}.jpg"] = _jpeg(k)
            maps[f"{split}2017/{stem}.png"] = _png(_ids([0, 181, 255, 91]))
            coco["images"].append({"id": k, "file_name": f"{stem}.jpg", "height": 6, "width": 8})
        coco["annotations"] = [
            {"image_id": 1, "iscrowd": 0, "segmentation": [[1, 1, 3.9, 1, 3.9, 6.9, 1, 6.9]]},  # columns 0..2
            {"image_id": 1, "iscrowd": 1, "segmentation": {"counts": [42, 6], "size": [6, 8]}},  # last column
        ]
        notes[f"annotations/instances_{split}2017.json"] = json.dumps(coco).encode()
        notes[f"annotations/captions_{split}2017.json"] = b"{}"
        server.files[f"/{split}2017.zip"] = _zip(images)
    server.files["/stuffthingmaps_trainval2017.zip"] = _zip(maps)
    server.files["/annotations_trainval2017.zip"] = _zip(notes)


def test_cocostuff_with_instance_maps_from_the_annotations(server, tmp_path, capsys):
    _coco_archives(server)
    status, _, err = _run("cocostuff", "--root", str(tmp_path), "--mirror", _url(server, ""), capsys=capsys)
    assert status == 0, err
    out_dir = tmp_path / "cocostuff"
    info = json.loads((out_dir / "dataset.json").read_text())
    assert len(info["class_names"]) == 182 and info["class_names"][91] == "banner"
    assert np.array_equal(_label(out_dir / "val" / "labels" / "000000000001.png"), _ids([0, 181, 255, 91]))
    with Image.open(out_dir / "train" / "instances" / "000000000001.png") as image:
        instance = np.asarray(image)
    expected = _ids([0, 181, 255, 91]).copy()  # the label map, as the official instance maps start
    expected[:, :3] = 0  # the polygon (x 0..3.9, shifted by -1 as officially), painted with instance number 0
    assert np.array_equal(instance, expected)  # the run-length (crowd) mask is skipped, as officially
    with Image.open(out_dir / "train" / "instances" / "000000000002.png") as image:
        assert np.array_equal(np.asarray(image), _ids([0, 181, 255, 91]))  # no annotations: the label map alone
    item = load_dataset("cocostuff", root=tmp_path, split="train", size=(6, 8))[0]
    assert item["instance"].tolist() == expected.tolist() and item["label"].max() == 255


def test_ade20k_outdoor_keeps_outdoor_scenes(server, tmp_path, capsys):
    top = "ADEChallengeData2016"
    entries, scenes = {}, []
    for split, short in (("training", "train"), ("validation", "val")):
        for k, scene in ((1, "street"), (2, "bedroom")):
            stem = f"ADE_{short}_0000000{k}"
            entries[f"{top}/images/{split}/{stem}.jpg"] = _jpeg(k)
            entries[f"{top}/annotations/{split}/{stem}.png"] = _png(_ids([0, 1, 150]))
            scenes.append(f"{stem} {scene}")
    entries[f"{top}/sceneCategories.txt"] = "\n".join(scenes).encode()
    server.files[f"/{top}.zip"] = _zip(entries)
    status, _, err = _run("ade20k-outdoor", "--root", str(tmp_path), "--mirror", _url(server, ""), capsys=capsys)
    assert status == 0, err
    out_dir = tmp_path / "ade20k-outdoor"
    assert [p.name for p in (out_dir / "train" / "images").iterdir()] == ["ADE_train_00000001.jpg"]
    assert "approximation" in json.loads((out_dir / "dataset.json").read_text())["source"]


# ---------------------------------------------------------------- nothing is marked prepared unless it all checks out


@pytest.mark.parametrize("meta, named", [
    ([1, 2], "not a list"),
    ({"class_names": 5}, "got 5"),
    ({"class_names": "skyroadcar"}, '"skyroadcar"'),
    ({"class_names": [f"c{i}" for i in range(300)]}, "300 classes"),
    ({"class_names": ["a", "b"]}, "class id 2 is out of range"),  # the labels hold 0..2
])
def test_bad_dataset_json_is_never_marked_prepared(server, tmp_path, capsys, meta, named):
    entries = {**_custom_entries(), "dataset.json": json.dumps(meta).encode()}
    server.files["/mine.zip"] = _zip(entries)
    argv = ("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path))
    status, _, err = _run(*argv, capsys=capsys)
    assert status == 1 and named in _error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads"]
    server.files["/mine.zip"] = _zip(_custom_entries())  # fixed upstream: a re-run prepares it
    (tmp_path / "downloads" / "mine-mine.zip").unlink()
    assert _run(*argv, capsys=capsys)[0] == 0 and (tmp_path / "mine" / MARKER).is_file()


@pytest.mark.parametrize("damage, named", [
    ("truncated image", "images/a.jpg"),
    ("zero-byte label", "labels/a.png"),
    ("size mismatch", "4x3"),
    ("bomb", "MAX_IMAGE_PIXELS"),
    ("all dont care", "every label pixel is 255"),
])
def test_bad_pairs_are_never_marked_prepared(server, tmp_path, capsys, damage, named):
    entries = _custom_entries()
    if damage == "truncated image":
        entries["images/a.jpg"] = entries["images/a.jpg"][: len(entries["images/a.jpg"]) // 2]
    elif damage == "zero-byte label":
        entries["labels/a.png"] = b""
    elif damage == "size mismatch":
        entries["labels/a.png"] = _png(_ids([0], shape=(3, 4)))
    elif damage == "bomb":
        entries["images/b.png"] = png_claiming(40000, 40000, mode_byte=2)
    else:
        entries["labels/a.png"] = entries["labels/b.png"] = _png(_ids([255]))
    server.files["/mine.zip"] = _zip(entries)
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    assert status == 1 and named in _error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads"]


@pytest.mark.parametrize("cap, named", [("MAX_MEMBER_BYTES", "limit per file"), ("MAX_TOTAL_BYTES", "limit;")])
def test_extraction_is_capped(server, tmp_path, capsys, monkeypatch, cap, named):
    monkeypatch.setattr(extract_module, cap, 50_000)
    server.files["/mine.zip"] = _zip({**_custom_entries(), "junk.bin": bytes(60_000)})  # 60 kB of zeros: tiny zipped
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    line = _error_line(err)
    assert status == 1 and named in line and "refusing to extract" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads"]


@pytest.mark.parametrize("argv, named", [
    ([], "give a dataset"), (["facades", "--url", "http://x/a.zip"], "not both"),
    (["--url", "http://x/a.zip"], "--name"),
    (["facades", "--local", "x"], "--local goes with cityscapes"), (["cityscapes", "--mirror", "x"], "--mirror"),
    (["--url", "http://x/a.zip", "--name", "downloads"], "--name 'downloads'"),
    (["--url", "http://x/a.zip", "--name", "a", "--sha256", "12"], "64 hex digits"),
])
def test_bad_usage_is_one_line_and_exit_2(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and named in err and "spade-lesson download" in err


# ---------------------------------------------------------------- hostile servers: every long wait has a bound


class _Hostile(BaseHTTPRequestHandler):
    """/huge: a 10 GB Content-Length; /endless: a body without end; /trickle: a byte per 0.1 s; /silent: headers, then
    nothing; /gzip: Content-Encoding gzip; /html: a web page; /loop: a redirect to itself."""

    def do_GET(self) -> None:
        import time

        self.server.requests.append(self.path)
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        if self.path == "/huge":
            self.send_header("Content-Length", str(10 * 10**9))
        if self.path == "/gzip":
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        try:
            if self.path in ("/endless", "/huge"):
                while not self.server.stopping:
                    self.wfile.write(bytes(64 * 1024))
            elif self.path == "/trickle":
                while not self.server.stopping:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            elif self.path == "/silent":
                while not self.server.stopping:
                    time.sleep(0.05)
            elif self.path == "/html":
                self.wfile.write(b"<!DOCTYPE html>\n<html><body>Please log in</body></html>\n")
            else:
                self.wfile.write(b"\x1f\x8b" + bytes(100))
        except OSError:
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def hostile(monkeypatch):
    """A hostile server, with the bounds shrunk to fractions of a second and two attempts."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.requests, httpd.stopping, httpd.daemon_threads = [], False, True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setattr(fetch, "MAX_BYTES", 2**20)
    monkeypatch.setattr(fetch, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(fetch, "STALL_S", 0.5)
    monkeypatch.setattr(fetch, "RETRIES", 2)
    yield httpd
    httpd.stopping = True
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path, message", [
    ("/huge", "the server announces 10000000000 bytes, more than the 0.000977 GiB"),
    ("/endless", "the server sent more than 1048576 bytes; deleted the partial file"),
    ("/trickle", "the transfer stalled"),
    ("/silent", "timed out"),
    ("/gzip", "the server compressed the transfer (Content-Encoding: gzip)"),
    ("/html", "a web page (HTML), not an archive"),
    ("/loop", "HTTP 302"),
])
def test_hostile_servers_end_in_one_line_within_a_bound_and_leave_no_part(hostile, tmp_path, capsys, path, message):
    import time

    start = time.perf_counter()
    status, _, err = _run("--url", _url(hostile, path), "--name", "mine", "--root", str(tmp_path), capsys=capsys)
    assert time.perf_counter() - start < 20
    assert status == 1 and message in _error_line(err), err
    downloads = tmp_path / "downloads"
    leftovers = [p.name for p in downloads.iterdir()] if downloads.exists() else []
    assert path in ("/trickle", "/silent") or leftovers == []  # a stalled .part is kept: the next run resumes it


def test_a_url_without_a_scheme_is_one_line_and_never_retried(tmp_path, capsys):
    status, _, err = _run("--url", "example.org/mine.zip", "--name", "mine", "--root", str(tmp_path), capsys=capsys)
    assert status == 1 and "is not an http:// or https:// address" in _error_line(err)
    assert "retry" not in err


def test_a_full_disk_names_the_file_and_deletes_the_part(server, tmp_path, capsys, monkeypatch):
    import errno

    class FullDisk:
        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise OSError(errno.ENOSPC, "No space left on device")

    server.files["/mine.zip"] = _zip(_custom_entries())
    monkeypatch.setattr(fetch, "tqdm", FullDisk)
    status, _, err = _run("--url", _url(server, "/mine.zip"), "--name", "mine", "--root", str(tmp_path),
                          capsys=capsys)
    line = _error_line(err)
    assert status == 1 and "disk full while writing" in line and "mine.zip.part: deleted it" in line
    assert list((tmp_path / "downloads").iterdir()) == []


def test_a_fake_cityscapes_zip_is_one_line(tmp_path, capsys):
    local = tmp_path / "local"
    local.mkdir()
    (local / "leftImg8bit_trainvaltest.zip").write_bytes(b"PK\x03\x04" + bytes(200))
    (local / "gtFine_trainvaltest.zip").write_bytes(b"not a zip at all\nsecond line\n")
    status, _, err = _run("cityscapes", "--local", str(local), "--root", str(tmp_path / "root"), capsys=capsys)
    line = _error_line(err)
    assert status == 1 and "not a complete zip or tar archive" in line and "download" in line
    assert "\n- method" not in err
