"""Print pip constraints that pin every dependency pyproject.toml declares to its lowest allowed version.

Usage: python scripts/lowest_versions.py EXTRA... > lowest.txt, then
pip install -c lowest.txt -e ".[EXTRA,...]". .ci/run does this in a second virtual environment and runs
a smoke subset of the tests there, so a floor that no longer works fails CI instead of a user's install.
Packages given as NAME==VERSION after --keep are pinned to that version instead (torch: the local CPU
build; any other torch version would download a multi-GB CUDA build).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*(.*)$")


def floors(extras: list[str]) -> dict[str, str]:
    """Each declared dependency (the core ones and those of ``extras``) with its ``>=`` floor."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    out: dict[str, str] = {}
    for requirement in requirements:
        name, spec = _REQUIREMENT.match(requirement).groups()
        if name == project["name"]:
            continue  # a self-reference such as engage[train,review]: its extras are listed on their own
        floor = re.search(r">=\s*([^,\s]+)", spec)
        if floor is None:
            raise SystemExit(
                f"{requirement!r} in pyproject.toml has no >= floor; declare the lowest version it works with"
            )
        out[name.lower()] = floor.group(1)
    return out


def main(argv: list[str]) -> int:
    keep = argv[argv.index("--keep") + 1 :] if "--keep" in argv else []
    extras = argv[: argv.index("--keep")] if "--keep" in argv else argv
    pins = floors(extras)
    for pin in keep:
        name, version = pin.split("==")
        pins[name.lower()] = version
    print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
