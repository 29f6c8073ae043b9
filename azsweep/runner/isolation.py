"""Each trial in its own Python environment: an overlay that sees a base environment's packages and takes
its own installs, so a trial's ``pip install`` changes neither azsweep's environment nor another trial's.

An overlay is a virtual environment made by hand in a few milliseconds (no ``venv`` module, no pip copy):
``pyvenv.cfg`` naming the base interpreter, ``bin/python`` linked to it, ``bin/pip`` running the base's
pip inside the overlay, and a ``.pth`` file that appends the base's site-packages folders *after* the
overlay's own. Python started from ``bin/python`` has the overlay as ``sys.prefix``: pip installs there,
and what it installs shadows the base's copy (pip leaves the base's alone: "Not uninstalling ... outside
environment"). The base is the environment azsweep runs in (``BaseEnvironment.current``) or one built
from the job's declared environment (``environments.py``). A job whose environment is an image only runs its
trials in containers of the image instead (``BaseEnvironment.container``, ``containers.py``): no overlay then.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azsweep.runner.containers import Container

PTH_NAME = "_azsweep_base.pth"
_VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class BaseEnvironment:
    """What an overlay builds on: an interpreter, the site-packages folders it sees, its scripts folder."""

    python: Path  # the real interpreter (not a venv's link to it)
    site_dirs: tuple[Path, ...]  # seen by every overlay on it, after the overlay's own site-packages
    bin_dir: Path | None  # its console scripts, on a trial's PATH after the overlay's
    label: str  # how notes name it
    container: Container | None = None  # set: the trials run in containers of this image, on its Python

    @classmethod
    def current(cls) -> BaseEnvironment:
        """The environment azsweep runs in (a venv or not): its packages, its interpreter."""
        base = Path(getattr(sys, "_base_executable", None) or sys.executable).resolve()
        dirs = [Path(p) for p in site.getsitepackages()]
        user = site.getusersitepackages() if site.ENABLE_USER_SITE else None
        if user and Path(user).is_dir():
            dirs.append(Path(user))
        scripts = sysconfig.get_path("scripts")
        return cls(
            python=base,
            site_dirs=tuple(dict.fromkeys(dirs)),
            bin_dir=Path(scripts) if scripts else None,
            label=f"the current environment ({sys.prefix})",
        )


@dataclass(frozen=True)
class Overlay:
    """A trial's own environment (``root``): ``python`` and ``bin`` to run in it."""

    root: Path
    base: BaseEnvironment

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def site_packages(self) -> Path:
        return self.root / "lib" / _VERSION / "site-packages"

    def environ(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` for a process that runs in the overlay: its ``bin`` first on PATH (then the base's scripts),
        ``VIRTUAL_ENV`` set, and nothing that would point Python elsewhere."""
        out = dict(env)
        front = [str(self.bin)] + ([str(self.base.bin_dir)] if self.base.bin_dir else [])
        rest = [p for p in out.get("PATH", "").split(os.pathsep) if p and p not in front]
        out["PATH"] = os.pathsep.join(front + rest)
        out["VIRTUAL_ENV"] = str(self.root)
        for name in ("PYTHONHOME", "PYTHONNOUSERSITE", "__PYVENV_LAUNCHER__", "CONDA_PREFIX"):
            out.pop(name, None)
        return out


def make_overlay(root: Path, base: BaseEnvironment) -> Overlay:
    """Create (or reuse) the overlay at ``root`` on ``base``: a handful of small files and links."""
    overlay = Overlay(root, base)
    if (root / "pyvenv.cfg").is_file():
        return overlay
    overlay.site_packages.mkdir(parents=True, exist_ok=True)
    overlay.bin.mkdir(parents=True, exist_ok=True)
    version = ".".join(map(str, sys.version_info[:3]))
    (root / "pyvenv.cfg").write_text(
        f"home = {base.python.parent}\ninclude-system-site-packages = false\nversion = {version}\nexecutable = {base.python}\n"
    )
    for name in ("python", "python3", _VERSION):
        link = overlay.bin / name
        if not link.exists():
            link.symlink_to(base.python)
    calls = "".join(f"; site.addsitedir({str(d)!r})" for d in base.site_dirs)
    (overlay.site_packages / PTH_NAME).write_text(f"import site{calls}\n")  # one line: .pth runs lines that import
    launcher = f"#!{overlay.python}\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n"
    for name in ("pip", "pip3"):
        script = overlay.bin / name
        script.write_text(launcher)
        script.chmod(0o755)
    return overlay
