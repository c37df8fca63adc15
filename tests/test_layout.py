"""The package reads as the pipeline: a stage imports only the shared modules, archive_parsers and the
stages before it; nothing on the real path imports the simulation; each subcommand lives with its stage."""

import ast
from pathlib import Path

import pytest

from engage.cli import make_parser

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("dataset", "training", "review", "report")  # pipeline order
SHARED = {p.stem for p in (ROOT / "engage").glob("*.py")} - {"__init__", "__main__", "cli"}


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # from engage.report import cli
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def stage_of(module: str) -> str | None:
    """The stage or part a dotted module belongs to: a stage name, 'shared', 'simulation', 'cli', or None (not ours)."""
    parts = module.split(".")
    if parts[0] in ("archive_parsers", "review_app"):
        return parts[0]
    if parts[0] != "engage":
        return None
    if len(parts) == 1:
        return "shared"  # from engage import __version__
    head = parts[1]
    if head in STAGES or head == "simulation":
        return head
    if head in SHARED or head == "__version__":
        return "shared"
    if head in ("cli", "__main__"):
        return "cli"
    return f"unknown:{head}"


def allowed_for(part: str) -> set[str]:
    earlier = STAGES[: STAGES.index(part) + 1] if part in STAGES else ()
    return {"shared", "archive_parsers", *earlier}


def files(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", files("engage"), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_engage_imports_follow_the_pipeline(path):
    rel = path.relative_to(ROOT / "engage").parts
    part = rel[0] if len(rel) > 1 else ("cli" if rel[0] in ("cli.py", "__main__.py") else "shared")
    if part == "cli":
        return  # the command assembles every stage
    if part == "simulation":
        allowed = {"shared", "archive_parsers", "simulation", *STAGES}  # it measures the whole loop
    else:
        allowed = allowed_for(part)
        if path == ROOT / "engage/review/cli.py":
            allowed.add("review_app")  # `engage review` serves the app over this stage's store
    wrong = {m: stage_of(m) for m in imported(path) if stage_of(m) is not None and stage_of(m) not in allowed}
    assert not wrong, f"{path.relative_to(ROOT)} ({part}) imports {wrong}"


@pytest.mark.parametrize(
    "folder, allowed",
    [
        ("archive_parsers", set()),  # parsing knows nothing of engage
        ("review_app", {"shared", "archive_parsers", "dataset", "review"}),  # the owner's view over the review store
        ("recipes", {"shared", "training"}),  # a run reads the dataset files; it applies no data rule
    ],
)
def test_the_other_folders_import_only_what_they_serve(folder, allowed):
    for path in files(folder):
        wrong = {m: stage_of(m) for m in imported(path) if stage_of(m) not in (None, folder, *allowed)}
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_each_stage_says_what_it_owns_and_must_not_do():
    for part in (*STAGES, "simulation"):
        doc = ast.get_docstring(ast.parse((ROOT / "engage" / part / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.split()) > 20, part
        assert "must not" in doc.lower() or "no stage imports it" in doc.lower(), part


def test_every_subcommand_is_defined_in_its_stage():
    sub = next(a for a in make_parser()._actions if a.dest == "command")
    where = {name: p.get_default("run").__module__ for name, p in sub.choices.items()}
    assert len(where) == 9
    for name, module in where.items():
        parts = module.split(".")
        assert len(parts) == 3 and parts[0] == "engage" and parts[2] == "cli", (name, module)
        assert parts[1] in (*STAGES, "simulation"), (name, module)


def test_no_engage_module_imports_gradio_when_imported():
    """Only the review app needs gradio; `engage` and its stages must import without it (DESIGN.md)."""
    import subprocess
    import sys

    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in files("engage")
        if p.name != "__main__.py"
    )
    script = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint('gradio' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", script, *modules], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1] == "False"
