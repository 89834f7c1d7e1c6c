"""The C++ core on a Raspberry Pi's CPU: it builds for aarch64 without a warning, and computes
the same bits there as here, so a seed reproduces a run on a gateway as on a development machine.

Built with the project's own CMake options (``EDGEWISE_CORE_ONLY``: the core and
tests/cross/crosscheck.cpp, which prints its kernels' results as hex floats), once for
this machine and once with Debian's aarch64 cross compiler, run under ``qemu-aarch64``.
Skipped where that toolchain is not installed (``apt-get install g++-aarch64-linux-gnu
qemu-user``; .ci/run installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CROSS = shutil.which("aarch64-linux-gnu-g++")
QEMU = shutil.which("qemu-aarch64")
CMAKE = shutil.which("cmake")
AARCH64_ROOT = "/usr/aarch64-linux-gnu"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CROSS and QEMU and CMAKE), reason="needs cmake, g++-aarch64-linux-gnu and qemu-user"),
]


def build(out: Path, *cross: str) -> Path:
    """Configure and build the cross-check program; warnings are errors."""
    configure = [str(CMAKE), "-S", str(REPO), "-B", str(out), "-DEDGEWISE_CORE_ONLY=ON",
                 "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_COMPILE_WARNING_AS_ERROR=ON", *cross]
    for command in (configure, [str(CMAKE), "--build", str(out), "-j2", "--target", "edgewise_crosscheck"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    return out / "edgewise_crosscheck"


EM_AARCH64 = 183


def elf_machine(path: Path) -> int:
    """``e_machine`` of an ELF file (little-endian, at byte 18)."""
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    return int.from_bytes(head[18:20], "little")


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def test_the_core_builds_for_aarch64_and_gives_the_same_bits_as_here(tmp_path: Path) -> None:
    here = run(str(build(tmp_path / "native")))
    arm = build(tmp_path / "aarch64", "-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
                f"-DCMAKE_CXX_COMPILER={CROSS}")
    assert elf_machine(arm) == EM_AARCH64
    there = run(str(QEMU), "-L", AARCH64_ROOT, str(arm))
    lines = here.splitlines()
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == ["fw", "fw", "kmeans", "fit",
                                                                                 "features"]
    assert there.splitlines() == lines  # every kernel result, bit for bit
