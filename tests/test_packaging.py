"""The wheel installs whole packages: every file of each package it ships (a config, not only code), and no other."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from conftest import REPO

SHIPPED = {"engage", "archive_parsers", "review_app"}  # recipes/ runs from a checkout: not installed


def test_the_wheel_ships_whole_packages_and_its_licence(tmp_path):
    # from a clean copy: setuptools would reuse a stale build/ left in the checkout
    source = tmp_path / "src"
    junk = shutil.ignore_patterns(
        ".git",
        ".venv*",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        ".*_cache",
        ".hypothesis",
        "demo",
        "data",
        "runs",
        "models",
    )
    shutil.copytree(REPO, source, ignore=junk)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("engage-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == SHIPPED
    for package in SHIPPED:
        source = {
            p.relative_to(REPO).as_posix()
            for p in (REPO / package).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
        assert source <= set(names), f"files of {package}/ missing from the wheel: {sorted(source - set(names))}"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
