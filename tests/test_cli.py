"""The engage command as a user meets it, including every bad input a person can hand it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import js, manifest, run_engage, tweet, write_zip

from archive_parsers import source as source_module


def assert_one_line_error(proc, *needles: str, quiet: bool = True) -> None:
    """Non-zero exit, no traceback, and one error line (the only line at all when quiet)."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    if quiet:
        assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_help_reads_well():
    top = run_engage("--help")
    assert top.returncode == 0 and "build-dataset" in top.stdout and "sample-archive" in top.stdout
    build = run_engage("build-dataset", "--help")
    for flag in ("--window", "--min-ratio", "--max-pairs-per-post", "--match", "--adjust", "--top-fraction", "--rank",
                 "--test-fraction", "--format", "--links", "--prompt", "--min-age", "--like-weight", "--repost-weight",
                 "--include-replies", "--quiet", "--force"):  # fmt: skip
        assert flag in build.stdout


def test_sample_archive_then_build_dataset_as_a_user_would(tmp_path):
    archive = tmp_path / "sample.zip"
    made = run_engage("sample-archive", archive, "--posts", "600", "--seed", "4")
    assert made.returncode == 0, made.stderr
    built = run_engage("build-dataset", archive, "--out", tmp_path / "data")
    assert built.returncode == 0, built.stderr
    assert "wrote" in built.stderr and "reading" in built.stderr
    stats = json.loads((tmp_path / "data" / "stats.json").read_text())
    assert stats["counts"]["sft"]["train"] > 0 and stats["counts"]["dpo"]["train"] > 0
    quiet = run_engage("build-dataset", archive, "--out", tmp_path / "data", "--force", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_sample_archive_is_deterministic_for_a_seed(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert (
            run_engage("sample-archive", tmp_path / f"{name}.zip", "--posts", "200", "--seed", str(seed)).returncode
            == 0
        )
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert (tmp_path / "a.zip").read_bytes() != (tmp_path / "c.zip").read_bytes()


def _truncated(tmp_path):
    body = js("YTD.tweets.part0", [{"tweet": tweet(str(i), f"post {i}")} for i in range(50)])
    return write_zip(tmp_path / "a.zip", {"data/tweets.js": body[: len(body) // 2]})


def _garbled(tmp_path):
    body = js("YTD.tweets.part0", [{"tweet": tweet(str(i), f"post {i}")} for i in range(50)])
    k = len(body) // 2
    return write_zip(tmp_path / "a.zip", {"data/tweets.js": body[:k] + "}}}}[[[" + body[k:]})


BAD_INPUTS = {
    "random bytes": (lambda p: (p / "x.zip").write_bytes(os.urandom(4096)) and p / "x.zip", "not a readable zip"),
    "random bytes, no suffix": (lambda p: (p / "x.bin").write_bytes(os.urandom(4096)) and p / "x.bin", "neither a zip"),
    "empty file": (lambda p: (p / "e.zip").write_bytes(b"") or p / "e.zip", "empty"),
    "empty zip": (lambda p: write_zip(p / "e.zip", {}), "no post files"),
    "archive with no posts": (lambda p: write_zip(p / "a.zip", {"data/tweets.js": "window.YTD.tweets.part0 = [ ]"}), "holds no posts"),
    "only other files": (lambda p: write_zip(p / "a.zip", {"data/direct-messages.js": "window.YTD.dm.part0 = [ ]"}), "no post files"),
    "truncated post file": (_truncated, "truncated"),
    "damaged post file": (_garbled, "damaged"),
    "non-JS post file": (lambda p: write_zip(p / "a.zip", {"data/tweets.js": "\x00\x01 not javascript at all"}), "not an archive data file"),
    "JSON object, not a list": (lambda p: write_zip(p / "a.zip", {"data/tweets.js": 'window.YTD.tweets.part0 = {"a": 1}'}), "list of items"),
    "bad manifest": (lambda p: write_zip(p / "a.zip", {"data/manifest.js": "window.__THAR_CONFIG = {", "data/tweets.js": "window.YTD.tweets.part0 = [ ]"}), "manifest.js"),
    "missing path": (lambda p: p / "nope.zip", "does not exist"),
    "empty folder": (lambda p: (p / "empty").mkdir() or p / "empty", "no post files"),
    "only unsafe member names": (lambda p: write_zip(p / "a.zip", {"../../data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("1", "x")}])}), "no post files"),
    "only reposts": (lambda p: write_zip(p / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("1", "RT @a: hi")}])}), "eligible"),
    "csv missing columns": (lambda p: (p / "t.csv").write_text("id,text\n1,hello\n") and p / "t.csv", "lacks the column"),
    "broken parquet": (lambda p: (p / "t.parquet").write_bytes(b"PAR1 broken") and p / "t.parquet", "Parquet"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_line_and_nothing_written(case, tmp_path):
    make, needle = BAD_INPUTS[case]
    (tmp_path / "in").mkdir()
    path = make(tmp_path / "in")
    proc = run_engage("build-dataset", path, "--out", tmp_path / "out", "--handle", "me", "--quiet")
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "out").exists()
    loud = run_engage("build-dataset", path, "--out", tmp_path / "out", "--handle", "me")
    assert_one_line_error(loud, needle, quiet=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "no staging folder left"


def test_zip_bomb_is_refused_without_inflating_it(tmp_path):
    # A member that inflates far past the bound: highly compressible zeros after a valid start.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("data/tweets.js", "w") as fh:
            fh.write(b"window.YTD.tweets.part0 = [ ")
            chunk = b" " * (1 << 20)
            for _ in range(300):
                fh.write(chunk)
            fh.write(b"]")
    assert bomb.stat().st_size < 2 << 20
    proc = run_engage("build-dataset", bomb, "--out", tmp_path / "out", "--quiet")
    assert_one_line_error(proc, "zip bomb")

    # zipfile stops at the size the header declares; the byte counter is a second bound on
    # every stream we read (zip member or file), whatever the header says.
    from archive_parsers.errors import ArchiveError

    reader = source_module._CountingReader(io.BytesIO(b" " * (3 << 20)), 1 << 20, "data/tweets.js")
    with pytest.raises(ArchiveError, match="inflates past"):
        while reader.read(1 << 16):
            pass


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--window", "soon"], "not a duration"),
        (["--window", "0h"], "--window"),
        (["--min-ratio", "0.5"], "--min-ratio"),
        (["--top-fraction", "2"], "between 0 and 1"),
        (["--test-fraction", "1"], "--test-fraction"),
        (["--match", "colour"], "cannot be matched"),
        (["--format", "xml"], "invalid choice"),
        (["--prompt", "Hi {nickname}"], "{nickname}"),
        (["--prompt", "Hi {"], "malformed"),
        (["--as-of", "last tuesday"], "not a date"),
        (["--max-pairs-per-post", "-1"], "negative"),
    ],
)
def test_bad_flags_are_one_clear_line(args, needle, sample_2024, tmp_path):
    proc = run_engage("build-dataset", sample_2024[0], "--out", tmp_path / "out", *args)
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "out").exists()


def test_existing_out_without_force_is_refused(sample_2024, tmp_path):
    (tmp_path / "out").mkdir()
    proc = run_engage("build-dataset", sample_2024[0], "--out", tmp_path / "out")
    assert_one_line_error(proc, "--force")


def test_table_without_handle_asks_for_one(tmp_path):
    (tmp_path / "t.csv").write_text(
        "id,created_at,text,likes,reposts\n1,2024-01-01T00:00:00Z,hello,3,1\n2,2024-03-01,bye,0,0\n"
    )
    proc = run_engage("build-dataset", tmp_path / "t.csv", "--out", tmp_path / "out", "--quiet")
    assert_one_line_error(proc, "--handle")


def test_reads_from_unpacked_folder(sample_archives, tmp_path):
    proc = run_engage("build-dataset", sample_archives["2021"][1], "--out", tmp_path / "out", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["input"]["type"] == "x-archive"


def test_manifest_without_generation_date_uses_newest_post(tmp_path):
    items = [
        {"tweet": tweet(str(i), f"post number {i}", created=f"Mon Jan {i + 1:02d} 10:00:00 +0000 2024", likes=i)}
        for i in range(20)
    ]
    path = write_zip(tmp_path / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", items),
                                           "data/manifest.js": manifest({"tweets": ["data/tweets.js"]}, generated="")})  # fmt: skip
    proc = run_engage("build-dataset", path, "--out", tmp_path / "out", "--quiet")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["as_of_source"] == "newest post"
    assert stats["counts"]["left_out"]["too_recent"] == 7  # Jan 14..20 are within 7 days of Jan 20


def test_progress_goes_to_stderr_only(sample_2024, tmp_path):
    proc = run_engage("build-dataset", sample_2024[0], "--out", tmp_path / "out")
    assert proc.returncode == 0 and proc.stdout == ""
    assert io.StringIO(proc.stderr).read().count("engage:") >= 2


def test_ctrl_c_mid_build_says_one_line_and_leaves_nothing(sample_2024, tmp_path):
    script = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started with SIGINT ignored\n"
        "import engage.dataset.rules as b  # where build-dataset pairs posts\n"
        "real = b.find_pairs\n"
        "def interrupted(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(*a, **k)\n"
        "b.find_pairs = interrupted\n"
        "from engage.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", script, "build-dataset", str(sample_2024[0]), "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 130
    assert "Traceback" not in proc.stderr and proc.stderr.strip().endswith("nothing was left half-written")
    assert list(tmp_path.iterdir()) == []


# --out / --force of every command: replace only what engage wrote, never an input; read-only commands
# never create, migrate or change a store.


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from engage.dataset.build import BuildSettings, build_dataset
    from engage.simulation.sample_archive import write_sample_archive

    base = tmp_path_factory.mktemp("small")
    write_sample_archive(base / "a.zip", posts=400, seed=5)
    build_dataset(base / "a.zip", base / "data", BuildSettings())
    return base / "data"


def tree(folder: Path) -> dict:
    """Every file's bytes (SQLite's -wal/-shm side files aside: a reader may leave them, they hold no change)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_tiny_model_force_replaces_only_a_model_folder_engage_wrote(small_dataset, tmp_path):
    mine = tmp_path / "models"
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "thesis.txt").write_text("four years of work")
    before = tree(mine)
    proc = run_engage("tiny-model", "--dataset_dir", small_dataset, "--out", mine, "--force")
    assert_one_line_error(proc, "not a folder engage wrote")
    assert tree(mine) == before

    data_before = tree(small_dataset)
    proc = run_engage("tiny-model", "--dataset_dir", small_dataset, "--out", small_dataset, "--force")
    assert_one_line_error(proc, "an input")
    assert tree(small_dataset) == data_before

    model = tmp_path / "tiny"
    for extra in ((), ("--force", "--seed", "1")):
        proc = run_engage("tiny-model", "--dataset_dir", small_dataset, "--out", model, *extra)
        assert proc.returncode == 0, proc.stderr
        stats = json.loads((model / "stats.json").read_text())
        assert stats["tool"] == "engage" and stats["made"] == "engage tiny-model"
        assert (model / "config.json").is_file() and (model / "model.safetensors").is_file()
    assert stats["settings"]["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder left"


def test_sample_archive_force_replaces_only_a_sample_archive(tmp_path):
    real = tmp_path / "twitter-2024.zip"
    real.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # any zip of the owner's (here an empty one)
    proc = run_engage("sample-archive", real, "--posts", 50, "--force")
    assert_one_line_error(proc, "not a sample archive engage wrote")
    assert real.read_bytes() == b"PK\x05\x06" + b"\x00" * 18
    sample = tmp_path / "sample.zip"
    assert run_engage("sample-archive", sample, "--posts", 50).returncode == 0
    again = run_engage("sample-archive", sample, "--posts", 60, "--seed", 2, "--force")
    assert again.returncode == 0, again.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"twitter-2024.zip", "sample.zip"}, "no partial file left"


def decided_store(path: Path) -> Path:
    from review_fixtures import make_store

    store = make_store(path, {"sft-v1": ["one", "two"], "dpo-v1": ["three"]})
    for c in store.candidates():
        store.decide(c.id, c.version, "approved" if c.text != "two" else "rejected")
    store.close()
    return path


def test_feedback_and_report_never_replace_their_inputs(small_dataset, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    store = decided_store(data / "engage.db")  # a store kept inside the dataset folder
    other = decided_store(tmp_path / "other.db")
    before = tree(data)
    for args in (
        ("feedback", "--store", store, "--out", data, "--force"),
        ("feedback", "--store", other, "--out", data, "--mix", data, "--force"),
        ("report", "--store", store, "--out", data, "--force"),
    ):
        proc = run_engage(*args)
        assert_one_line_error(proc, "an input", quiet=args[0] == "feedback")
        assert tree(data) == before


def test_report_out_is_a_new_folder_or_one_engage_wrote(tmp_path):
    store = decided_store(tmp_path / "s.db")
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "report.html").write_text("my own page")
    for extra in ((), ("--force",)):
        proc = run_engage("report", "--store", store, "--out", mine, *extra)
        assert proc.returncode == 1 and (mine / "report.html").read_text() == "my own page", proc.stderr
    out = tmp_path / "report"
    assert run_engage("report", "--store", store, "--out", out).returncode == 0
    assert run_engage("report", "--store", store, "--out", out).returncode == 1, "exists: --force to replace"
    assert run_engage("report", "--store", store, "--out", out, "--force").returncode == 0
    assert json.loads((out / "report.json").read_text())["tool"] == "engage"


READ_ONLY = (
    ("report",),
    ("export", "--out", "{tmp}/x.csv"),
    ("feedback", "--out", "{tmp}/fb"),
    ("review", "--headless"),
)


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: c[0])
def test_read_only_commands_never_create_or_change_a_store(command, tmp_path):
    import hashlib
    import sqlite3

    args = [a.format(tmp=tmp_path) for a in command]
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, just my notes\n" * 100)
    for path, needle in ((empty, "is empty"), (other, "not an engage review store"), (text, "not a review store")):
        before = path.read_bytes()
        proc = run_engage(args[0], "--store", path, *args[1:])
        assert_one_line_error(proc, needle)
        assert path.read_bytes() == before, f"{args[0]} changed {path.name}"
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "fb").exists()
    missing = tmp_path / "missing.db"
    assert_one_line_error(run_engage(args[0], "--store", missing, *args[1:]), "does not exist")
    assert not missing.exists()

    store = decided_store(tmp_path / "s.db")
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    proc = run_engage(args[0], "--store", store, *args[1:])
    assert proc.returncode == 0, proc.stderr
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest


def test_the_review_app_refuses_a_file_that_is_not_a_store(tmp_path):
    from engage.errors import UserError
    from engage.review.store import ReviewStore

    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="not an engage review store"):
        ReviewStore(empty)  # as engage review opens it: read-write, but no create
    assert empty.read_bytes() == b""
    ReviewStore(empty, create=True).close()  # engage generate may start a store in an empty file
    assert ReviewStore(empty, readonly=True).count() == 0
