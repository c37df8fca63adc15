"""The kit's central claim, measured end to end on a CPU against an audience whose tastes are known.

    python benchmarks/end_to_end.py                       # the recorded run (RESULTS.md): ~1 h on 2 cores
    python benchmarks/end_to_end.py --n 40 --out /tmp/e2e # a quicker, noisier look

Every step is the command a user runs: ``engage sample-archive`` -> ``engage build-dataset`` ->
``engage base-model`` (SmolLM2-135M-Instruct, no download) -> ``recipes/sft.py`` -> ``recipes/dpo.py``
-> ``engage generate`` --n candidates each from the base model, SFT and DPO into one review store ->
the simulated owner reviews them through the store's API -> ``engage report`` -> ``engage
feedback`` (the owner's decisions, bait rejections included, plus the archive's pairs) -> a second
DPO round -> generate, review and report again. Only the audience and the owner are simulated
(``engage.simulation.audience``: documented, written before any model was trained, not fitted).

Printed, and written to OUT/end_to_end.json: per model the mean simulated-audience score of its
candidates (bootstrap 95% interval), the same without the bait phrase's effect, the bait rate,
the owner's acceptance (from ``engage report --json``, Wilson interval), the share of near
copies of the owner's posts; DPO - SFT, SFT - base and round 2 - round 1 with intervals; DPO reward
accuracy on the held-out test pairs; each goal of issue 10 met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engage.review.generate import owner_posts  # noqa: E402
from engage.review.near_copy import DEFAULT_THRESHOLD, NearCopyIndex, normalise  # noqa: E402
from engage.review.store import ReviewStore  # noqa: E402
from engage.simulation.audience import SimulatedOwner, is_bait, word_quality  # noqa: E402
from engage.simulation.sample_archive import fresh_posts  # noqa: E402
from engage.stats import wilson  # noqa: E402

BOOTSTRAP = 10_000


def run(cmd: list[str], log: Path, step: str, times: dict) -> None:
    """Run one real command, its output to ``log``; stop with the log's tail if it fails."""
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=os.environ)
    times[step] = round(time.perf_counter() - started, 1)
    print(f"  {step}: {times[step]:.0f} s", flush=True)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8").splitlines()[-15:]
        sys.exit(f"{step} failed (exit {done.returncode}); end of {log}:\n" + "\n".join(tail))


def launch(recipe: str, config: str, args: list[str], log: Path, step: str, times: dict) -> None:
    cpu = str(ROOT / "recipes/accelerate/cpu.yaml")
    run(["accelerate", "launch", "--config_file", cpu, str(ROOT / f"recipes/{recipe}.py"), "--config", config, *args,
         "--disable_tqdm", "true"], log, step, times)  # fmt: skip


def bootstrap_ci(values: np.ndarray, other: np.ndarray | None = None, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the mean (or of mean(values) - mean(other))."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (BOOTSTRAP, len(values)))].mean(axis=1)
    if other is not None:
        means = means - other[rng.integers(0, len(other), (BOOTSTRAP, len(other)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def rate(k: int, n: int) -> dict:
    return {"k": k, "n": n, "rate": k / n if n else None, "ci95": list(wilson(k, n))}


def rate_difference(a: dict, b: dict) -> dict:
    """b - a with Newcombe's hybrid score interval (from the two Wilson intervals)."""
    pa, pb = a["rate"], b["rate"]
    (la, ua), (lb, ub) = a["ci95"], b["ci95"]
    d = pb - pa
    return {"difference": d, "ci95": [d - ((pb - lb) ** 2 + (ua - pa) ** 2) ** 0.5,
                                      d + ((ub - pb) ** 2 + (pa - la) ** 2) ** 0.5]}  # fmt: skip


def mean_difference(a: np.ndarray, b: np.ndarray) -> dict:
    """mean(b) - mean(a) with a bootstrap interval."""
    return {"difference": float(b.mean() - a.mean()), "ci95": bootstrap_ci(b, a)}


def score_texts(texts: list[str], near: list[bool], owner: set[str]) -> dict:
    """Audience and honest scores, bait, near-copy flags and exact copies of the owner's posts."""
    return {
        "audience": [word_quality(t) for t in texts],
        "honest": [word_quality(t, include_bait=False) for t in texts],
        "bait": sum(map(is_bait, texts)),
        "near_copy": sum(near),
        "exact_copy": sum(normalise(t) in owner for t in texts),
        "n": len(texts),
    }


def score_candidates(store_path: Path, owner: set[str]) -> dict[str, dict]:
    """Per model label: the generated texts' scores and copy flags (as `engage generate` flagged them)."""
    by_label: dict[str, list] = {}
    with ReviewStore(store_path) as store:
        for c in store.candidates():
            by_label.setdefault(c.model_label, []).append(c)
    return {
        label: score_texts([c.text for c in cs], [bool(c.flags.get("near_copy")) for c in cs], owner)
        for label, cs in by_label.items()
    }


def score_fresh_posts(n: int, data: Path, owner: set[str]) -> dict:
    """The reference: posts the owner could write next (same words, in no archive), flagged the way
    `engage generate` flags candidates. How often a post that copies nothing is still a "near copy"."""
    index = NearCopyIndex(owner_posts(data))
    texts = fresh_posts(n)
    near = [(m := index.nearest(t)) is not None and m.similarity >= DEFAULT_THRESHOLD for t in texts]
    return score_texts(texts, near, owner)


def summarise(scores: dict, report: dict | None) -> dict[str, dict]:
    acceptance = {m["model"]: m["acceptance"] for m in report["models"]} if report else {}
    rows = {}
    for label, s in scores.items():
        audience, honest = np.array(s["audience"]), np.array(s["honest"])
        rows[label] = {
            "n": s["n"],
            "audience": {"mean": float(audience.mean()), "ci95": bootstrap_ci(audience)},
            "honest": {"mean": float(honest.mean()), "ci95": bootstrap_ci(honest)},
            "bait": rate(s["bait"], s["n"]),
            "near_copy": rate(s["near_copy"], s["n"]),
            "exact_copy": rate(s["exact_copy"], s["n"]),
            "acceptance": acceptance.get(label),
            "_audience": audience,
            "_honest": honest,
        }
    return rows


def review_and_report(store: Path, out: Path, log: Path, step: str, times: dict) -> dict:
    """The simulated owner decides every candidate through the store's API; then `engage report --json`
    (its output also saved as OUT/report.json)."""
    started = time.perf_counter()
    with ReviewStore(store) as s:
        decisions = SimulatedOwner().review(s)
    times[f"{step} review"] = round(time.perf_counter() - started, 1)
    print(f"  {step} review: {decisions}", flush=True)
    done = subprocess.run(["engage", "report", "--store", str(store), "--json"], capture_output=True, text=True,
                          cwd=ROOT)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{step} report failed: {done.stderr.strip()}")
    out.write_text(done.stdout, encoding="utf-8")
    return json.loads(done.stdout)


def reward_accuracy(run_dir: Path, dataset_dir: Path) -> dict:
    """DPO reward accuracy on the held-out test pairs (as TRL reports it), with a Wilson interval."""
    metrics = json.loads((run_dir / "eval_results.json").read_text(encoding="utf-8"))
    n = sum(1 for line in (dataset_dir / "dpo/test.jsonl").open(encoding="utf-8") if line.strip())
    acc = metrics.get("eval_rewards/accuracies")
    k = round(acc * n) if acc is not None else 0
    return {"accuracy": acc, "n": n, "ci95": list(wilson(k, n)), "eval_loss": metrics.get("eval_loss")}


def fmt_ci(x: dict, pct: bool = False) -> str:
    lo, hi = x["ci95"]
    value = x.get("mean", x.get("rate", x.get("difference", x.get("accuracy"))))
    if value is None:
        return "-"
    if pct:
        return f"{100 * value:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"{value:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def table(rows: dict[str, dict]) -> str:
    lines = [
        "| model | n | audience score | without bait's effect | bait rate | owner acceptance | near copies | exact copies |",
        "| --- | ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for label, r in rows.items():
        acc = r["acceptance"]
        lines.append(
            f"| {label} | {r['n']} | {fmt_ci(r['audience'])} | {fmt_ci(r['honest'])} | {fmt_ci(r['bait'], True)} | "
            + (f"{acc['k']}/{acc['n']} = {fmt_ci(acc, True)}" if acc else "-")
            + f" | {fmt_ci(r['near_copy'], True)} | {fmt_ci(r['exact_copy'], True)} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--out", type=Path, default=ROOT / "runs/end_to_end", help="working folder (default runs/end_to_end)"
    )
    ap.add_argument("--posts", type=int, default=3000, help="sample archive size (default 3000, as the demo)")
    ap.add_argument("--seed", type=int, default=0, help="sample archive seed")
    ap.add_argument("--n", type=int, default=150, help="candidates per model and round (default 150)")
    ap.add_argument("--base-model", type=Path, default=None, help="an existing `engage base-model` folder to reuse")
    ap.add_argument("--sft-config", default=str(ROOT / "recipes/smollm2-135m/sft.yaml"))
    ap.add_argument("--dpo-config", default=str(ROOT / "recipes/smollm2-135m/dpo.yaml"))
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more recipe flags for both recipes")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log, times = out / "log.txt", {}
    data, runs = out / "data", out / "runs"
    base = args.base_model.resolve() if args.base_model else out / "models/smollm2"
    started = time.perf_counter()
    print(f"end to end in {out} (commands and their output: {log})", flush=True)

    run(["engage", "sample-archive", str(out / "archive.zip"), "--posts", str(args.posts), "--seed", str(args.seed),
         "--force"], log, "sample archive", times)  # fmt: skip
    run(["engage", "build-dataset", str(out / "archive.zip"), "--out", str(data), "--force", "--quiet"], log,
        "build dataset", times)  # fmt: skip
    if not (base / "config.json").is_file():
        run(["engage", "base-model", "smollm2-135m", "--out", str(base)], log, "base model", times)
    model = ["--model_name_or_path", str(base), *args.extra]
    launch("sft", args.sft_config, [*model, "--dataset_dir", str(data), "--output_dir", str(runs / "sft")], log, "SFT", times)  # fmt: skip
    launch("dpo", args.dpo_config, [*model, "--dataset_dir", str(data), "--sft_adapter", str(runs / "sft"),
                                    "--output_dir", str(runs / "dpo")], log, "DPO", times)  # fmt: skip

    def generate(store: Path, label: str, *source: str) -> None:
        run(["engage", "generate", *source, "--label", label, "--n", str(args.n), "--store", str(store),
             "--batch-size", "16", "--quiet"], log, f"generate {label}", times)  # fmt: skip

    store1, store2 = out / "round1.db", out / "round2.db"
    for store in (store1, store2):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    generate(store1, "base", "--model", str(base), "--dataset_dir", str(data))
    generate(store1, "sft", "--adapter", str(runs / "sft"))
    generate(store1, "dpo", "--adapter", str(runs / "dpo"))
    report1 = review_and_report(store1, out / "report1.json", log, "round 1", times)

    feedback = out / "feedback"
    run(["engage", "feedback", "--store", str(store1), "--out", str(feedback), "--mix", str(data), "--force"], log,
        "feedback", times)  # fmt: skip
    launch("dpo", args.dpo_config, [*model, "--dataset_dir", str(feedback), "--sft_adapter", str(runs / "sft"),
                                    "--output_dir", str(runs / "dpo2")], log, "DPO round 2", times)  # fmt: skip
    generate(store2, "dpo-round2", "--adapter", str(runs / "dpo2"))
    report2 = review_and_report(store2, out / "report2.json", log, "round 2", times)

    owner = {normalise(t) for _, t in owner_posts(data)}
    rows = (
        summarise({"owner's new posts (reference)": score_fresh_posts(args.n, data, owner)}, None)
        | summarise(score_candidates(store1, owner), report1)
        | summarise(score_candidates(store2, owner), report2)
    )
    base_r, sft_r, dpo_r, dpo2_r = rows["base"], rows["sft"], rows["dpo"], rows["dpo-round2"]
    diffs = {
        "sft - base (audience)": mean_difference(base_r["_audience"], sft_r["_audience"]),
        "dpo - sft (audience)": mean_difference(sft_r["_audience"], dpo_r["_audience"]),
        "dpo - sft (without bait's effect)": mean_difference(sft_r["_honest"], dpo_r["_honest"]),
        "dpo - sft (bait rate)": rate_difference(sft_r["bait"], dpo_r["bait"]),
        "round 2 - round 1 (audience)": mean_difference(dpo_r["_audience"], dpo2_r["_audience"]),
        "round 2 - round 1 (without bait's effect)": mean_difference(dpo_r["_honest"], dpo2_r["_honest"]),
        "round 2 - round 1 (bait rate)": rate_difference(dpo_r["bait"], dpo2_r["bait"]),
        "round 2 - round 1 (acceptance)": rate_difference(dpo_r["acceptance"], dpo2_r["acceptance"]),
    }
    accuracy = {"dpo": reward_accuracy(runs / "dpo", data), "dpo-round2": reward_accuracy(runs / "dpo2", feedback)}
    near_all = sum(r["near_copy"]["k"] for r in (sft_r, dpo_r, dpo2_r))
    n_all = sum(r["n"] for r in (sft_r, dpo_r, dpo2_r))
    goals = {
        "SFT beats base (interval above 0)": diffs["sft - base (audience)"]["ci95"][0] > 0,
        "DPO beats SFT (interval above 0)": diffs["dpo - sft (audience)"]["ci95"][0] > 0,
        "round 2 lowers the bait rate (interval below 0)": diffs["round 2 - round 1 (bait rate)"]["ci95"][1] < 0,
        "round 2 keeps DPO's gain over SFT (round 2 - SFT interval above 0)": bootstrap_ci(
            dpo2_r["_audience"], sft_r["_audience"]
        )[0]
        > 0,
        "at most 10% near copies (trained models)": near_all <= 0.10 * n_all,
    }

    print(f"\n{table(rows)}\n")
    for name, d in diffs.items():
        print(f"{name}: {fmt_ci(d, pct='rate' in name or 'acceptance' in name)}")
    for name, a in accuracy.items():
        print(f"{name} reward accuracy on held-out test pairs: {fmt_ci(a, True)} (n={a['n']}, eval loss {a['eval_loss']:.4f})")  # fmt: skip
    print(f"near copies among trained models' candidates: {near_all}/{n_all}")
    for name, met in goals.items():
        print(f"goal {'met   ' if met else 'MISSED'}: {name}")
    total = time.perf_counter() - started
    print(f"\nsteps (s): {times}\ntotal: {total / 60:.1f} min")
    result = {
        "settings": vars(args) | {"out": str(out), "base_model": str(base)},
        "models": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in rows.items()},
        "differences": diffs,
        "reward_accuracy": accuracy,
        "goals": goals,
        "seconds": times,
    }
    (out / "end_to_end.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
