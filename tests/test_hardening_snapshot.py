"""The code snapshot: bounded by the code folder whatever its links, taken once per sweep, shared per trial.

A symlink loop (``ln -s . loop``) once made the snapshot copy grow without end, and a link out of the
folder (``ln -s ../outside up``) copied what lay outside it; each trial then copied the whole folder again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from azsweep.runner import process
from azsweep.runner.process import copy_snapshot, snapshot


def tree_size(folder: Path) -> tuple[int, int]:
    """(bytes of regular files, entries) under ``folder``, links never followed."""
    size = entries = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            entries += 1
            st = os.lstat(os.path.join(root, name))
            if not os.path.islink(os.path.join(root, name)):
                size += st.st_size if name in files else 0
    return size, entries


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """``src/`` with a script, a loop (``loop -> .``), a link out (``up -> ../outside``) and links inside."""
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "train.py").write_text("print('train')\n")
    (src / "pkg" / "util.py").write_text("X = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.bin").write_bytes(b"o" * 200_000)
    os.symlink(".", src / "loop")
    os.symlink("../outside", src / "up")
    os.symlink("train.py", src / "alias.py")
    os.symlink(str(src / "pkg"), src / "pkg_abs")  # an absolute link to a folder inside
    os.symlink("../train.py", src / "pkg" / "parent.py")
    return src


@pytest.mark.timeout(60)
def test_a_symlink_loop_and_a_link_out_of_the_folder_are_kept_as_links_and_never_followed(code: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    destination = tmp_path / "home" / "sweeps" / "s" / "snapshot"
    snapshot(code, destination, notes=notes)
    size, entries = tree_size(destination)
    assert size == len("print('train')\n") + len("X = 1\n")  # nothing from outside, nothing twice
    assert entries == 8  # train.py, pkg/, pkg/util.py and the five links
    assert os.readlink(destination / "loop") == "."
    assert os.readlink(destination / "up") == str((tmp_path / "outside").resolve())  # a link, its target not copied
    assert os.readlink(destination / "alias.py") == "train.py"
    assert os.readlink(destination / "pkg_abs") == "pkg"  # made relative: never back into the live folder
    assert os.readlink(destination / "pkg" / "parent.py") == os.path.join("..", "train.py")
    assert (destination / "pkg_abs" / "util.py").read_text() == "X = 1\n"  # links inside still work in the copy
    assert len(notes) == 1 and "up" in notes[0] and "outside the code folder" in notes[0]


@pytest.mark.timeout(60)
def test_a_destination_inside_the_code_folder_is_not_copied_into_itself(code: Path) -> None:
    destination = code / "runs" / "s" / "snapshot"
    snapshot(code, destination)
    assert not (destination / "runs" / "s" / "snapshot").exists()  # the copy in progress is not copied again
    assert (destination / "train.py").read_text() == "print('train')\n"


def test_a_fifo_in_the_code_folder_is_skipped_with_a_note(code: Path, tmp_path: Path) -> None:
    os.mkfifo(code / "pipe")  # copying it would block forever
    notes: list[str] = []
    snapshot(code, tmp_path / "snap", notes=notes)
    assert not (tmp_path / "snap" / "pipe").exists()
    assert any("pipe" in n and "not regular files" in n for n in notes)


def test_a_code_folder_over_the_threshold_gets_a_note_with_its_size(
    code: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "SNAPSHOT_NOTE_BYTES", 10)
    notes: list[str] = []
    snapshot(code, tmp_path / "snap", notes=notes)
    assert any(n.startswith(f"code {code} is 0 MB") for n in notes)
    notes.clear()
    monkeypatch.setattr(process, "SNAPSHOT_NOTE_BYTES", 1000)
    snapshot(code, tmp_path / "snap2", notes=notes)
    assert not any(" MB" in n for n in notes)


def test_a_trials_copy_hard_links_the_large_files_read_only_and_copies_the_code(
    code: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code / "weights.bin").write_bytes(b"w" * 4096)
    monkeypatch.setattr(process, "LINK_MIN_BYTES", 1024)
    shared = snapshot(code, tmp_path / "snapshot")
    first, second = copy_snapshot(shared, tmp_path / "t0"), copy_snapshot(shared, tmp_path / "t1")
    for copy in (first, second):
        assert os.stat(copy / "weights.bin").st_ino == os.stat(shared / "weights.bin").st_ino  # no copy per trial
        assert os.stat(copy / "train.py").st_ino != os.stat(shared / "train.py").st_ino  # the code: a trial's own
        assert os.readlink(copy / "loop") == "." and os.readlink(copy / "up") == str((tmp_path / "outside").resolve())
    assert not os.stat(shared / "weights.bin").st_mode & 0o222  # no trial can change what the others read
    (first / "train.py").write_text("edited\n")
    assert (second / "train.py").read_text() == "print('train')\n"


def test_a_trials_copy_falls_back_to_a_copy_where_links_are_refused(
    code: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code / "weights.bin").write_bytes(b"w" * 4096)
    monkeypatch.setattr(process, "LINK_MIN_BYTES", 1024)
    shared = snapshot(code, tmp_path / "snapshot")

    def cross_device(src: str, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    copy = copy_snapshot(shared, tmp_path / "t0")
    assert (copy / "weights.bin").read_bytes() == b"w" * 4096
    assert os.stat(copy / "weights.bin").st_ino != os.stat(shared / "weights.bin").st_ino
