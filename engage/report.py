"""``engage report``: what the owner accepts per model, and how published posts did against the owner's own.

Every rate comes with its 95% Wilson interval, every difference with an exact test, and a plain
warning (with how much more data would be needed) where the sample cannot support a conclusion.
"""

from __future__ import annotations

import html
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engage.errors import NothingYet
from engage.export import DEFAULT_DISCLOSURE, with_label
from engage.near_copy import normalise
from engage.output import staged_folder
from engage.pairing import PairRule
from engage.review_store import ReviewStore
from engage.scoring import LIKE_WEIGHT, MIN_AGE, REPOST_WEIGHT, engagement_scores
from engage.stats import (
    EXACT_LIMIT,
    fisher_exact,
    n_for_one_proportion,
    n_for_two_proportions,
    sign_test,
    wilson,
)

BAIT_LABEL = "engagement bait"


@dataclass(frozen=True)
class MatchRule:
    window: timedelta = PairRule.window  # as the DPO pairs
    min_age: timedelta = MIN_AGE  # as build-dataset: younger posts' counts are not final
    like_weight: float = LIKE_WEIGHT
    repost_weight: float = REPOST_WEIGHT


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None, "ci95": [lo, hi]}


def acceptance(store: ReviewStore) -> dict:
    """Per model label: acceptance, bait and label rates, all over the decided candidates (labels of
    pending ones, e.g. of an undone decision, are not counted); between labels, Fisher's exact test."""
    models = []
    for s in store.stats():
        bait = s.labels.get(BAIT_LABEL, 0)
        models.append(
            {
                "model": s.model_label,
                "candidates": s.candidates,
                "pending": s.pending,
                "decided": s.decided,
                "approved": s.approved,
                "rejected": s.rejected,
                "edited": s.edited,
                "published": s.published,
                "acceptance": _rate(s.approved, s.decided),
                "bait": _rate(bait, s.decided),
                "labels": {name: _rate(count, s.decided) for name, count in sorted(s.labels.items())},
            }
        )
    comparisons = []
    for a, b in itertools.combinations(models, 2):
        ra, rb = a["acceptance"]["rate"], b["acceptance"]["rate"]
        entry = {"a": a["model"], "b": b["model"], "difference": None, "fisher_p": None, "needed_per_model": None}
        if ra is not None and rb is not None:
            p = fisher_exact(a["approved"], a["rejected"], b["approved"], b["rejected"])
            needed = n_for_two_proportions(ra, rb)
            entry.update(difference=rb - ra, fisher_p=p, needed_per_model=needed)
            entry["warning"] = _two_model_warning(a, b, p, ra, rb, needed)
        else:
            entry["warning"] = f"{a['model'] if ra is None else b['model']} has no decisions yet: nothing to compare"
        comparisons.append(entry)
    return {"models": models, "comparisons": comparisons}


def _two_model_warning(a: dict, b: dict, p: float, ra: float, rb: float, needed: int | None) -> str | None:
    if p < 0.05:
        return None
    if ra == rb:
        return f"{a['model']} and {b['model']} are accepted at the same rate here; nothing to tell apart"
    have = min(a["decided"], b["decided"])
    if needed is None:
        more = f"more than {EXACT_LIMIT} decisions per model"
    else:
        more = f"about {needed} decisions per model ({max(0, needed - have)} more than the smaller has)"
    return (
        f"too few decisions to say {a['model']} and {b['model']} differ (exact p = {p:.2f}); for Fisher's exact "
        f"test to detect a difference this size 80% of the time needs {more}"
    )


def performance(store: ReviewStore, archive: Path, rule: MatchRule = MatchRule()) -> dict:
    """Published candidates found in a newer archive, each against the owner's own post made closest in time."""
    from archive_parsers import read_posts
    from archive_parsers.post import REPLY, REPOST

    data = read_posts(archive)
    posts = [p for p in data.posts if not p.dropped]
    as_of = data.generated_at or max((p.created_at for p in posts), default=datetime.now(timezone.utc))
    by_id = {p.id: p for p in posts}
    by_text: dict[str, list] = {}
    for p in sorted(posts, key=lambda p: p.created_at):
        by_text.setdefault(normalise(p.text), []).append(p)

    published = [c for c in store.candidates("approved") if c.published_ref]
    matched: dict[str, tuple] = {}
    not_found = []
    for c in published:
        post = by_id.get(c.published_post_id or "")
        how = "id"
        if post is None:
            how = "text"
            post = _posted_text(c, by_text, set(matched))
        if post is None:
            not_found.append(c.id)
        else:
            matched[post.id] = (c, post, how)

    def score(p) -> float:
        return float(engagement_scores(p.likes, p.reposts, rule.like_weight, rule.repost_weight))

    settled = lambda p: p.created_at <= as_of - rule.min_age  # noqa: E731
    own = sorted(
        (p for p in posts if p.id not in matched and p.kind not in (REPLY, REPOST) and settled(p)),
        key=lambda p: p.created_at,
    )
    rows, too_young, no_neighbour = [], 0, 0
    for c, post, how in matched.values():
        if not settled(post):
            too_young += 1
            continue
        near = [p for p in own if abs(p.created_at - post.created_at) <= rule.window]
        if not near:
            no_neighbour += 1
            continue
        other = min(near, key=lambda p: abs(p.created_at - post.created_at))
        s, o = score(post), score(other)
        rows.append(
            {
                "candidate": c.id,
                "model": c.model_label,
                "post_id": post.id,
                "matched_by": how,
                "score": s,
                "own_post_id": other.id,
                "own_score": o,
                "seconds_apart": abs((other.created_at - post.created_at).total_seconds()),
                "outcome": "win" if s > o else "loss" if s < o else "tie",
                "ratio": (s + 1) / (o + 1),
            }
        )
    wins = sum(r["outcome"] == "win" for r in rows)
    losses = sum(r["outcome"] == "loss" for r in rows)
    ties = len(rows) - wins - losses
    judged = wins + losses
    p = sign_test(wins, losses)
    out = {
        "archive": str(archive),
        "as_of": as_of.isoformat(),
        "window_s": rule.window.total_seconds(),
        "min_age_s": rule.min_age.total_seconds(),
        "published": len(published),
        "not_found": not_found,
        "too_young": too_young,
        "no_own_post_in_window": no_neighbour,
        "judged": judged,
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": _rate(wins, judged),
        "sign_test_p": p,
        "posts": rows,
        "warning": None,
    }
    if judged == 0:
        out["warning"] = (
            "no published post could be judged yet: publish some, wait past --min-age, then export a newer archive"
        )
    elif p >= 0.05:
        needed = n_for_one_proportion(wins / judged)
        if needed:
            more = f"about {needed} judged posts ({max(0, needed - judged)} more)"
        else:
            more = "far more posts" if wins == losses else f"more than {EXACT_LIMIT} judged posts"
        out["warning"] = (
            f"too few published posts to say they do better or worse than your own (exact sign test p = {p:.2f}); "
            f"for the exact sign test to detect a win rate this far from 50% 80% of the time needs {more}"
        )
    return out


def _posted_text(candidate, by_text: dict[str, list], taken: set[str]):
    """The first post made at or after the candidate was decided whose whole text (case and white space
    aside) is the candidate's, alone or with the default AI-generated label ``engage export`` adds."""
    from archive_parsers.x_text import parse_iso_utc

    decided = parse_iso_utc(candidate.decided_at)
    text = candidate.current_text
    wanted = {normalise(text), normalise(with_label(text, DEFAULT_DISCLOSURE))}
    found = [p for key in wanted for p in by_text.get(key, ()) if p.created_at >= decided and p.id not in taken]
    return min(found, key=lambda p: p.created_at, default=None)


def build_report(store: ReviewStore, archive: Path | None = None, rule: MatchRule = MatchRule()) -> dict:
    """The report; NothingYet when no candidate has been decided (there is no rate to give)."""
    if not any(s.decided for s in store.stats()):
        pending = store.count("pending")
        raise NothingYet(
            f"nothing to report yet: {store.path} holds no decisions ({pending} candidates waiting for review); "
            "decide some with `engage review`"
        )
    report = {
        "tool": "engage",
        "made": "engage report",
        "store": str(store.path),
        "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    report.update(acceptance(store))
    if archive is not None:
        report["performance"] = performance(store, archive, rule)
    return report


def _pct(r: dict) -> str:
    if r["rate"] is None:
        return "–"
    lo, hi = r["ci95"]
    return f"{r['rate']:.0%} ({lo:.0%}–{hi:.0%})"


def render_text(report: dict) -> str:
    lines = ["Acceptance per model (approved / decided, 95% Wilson interval):", ""]
    header = f"{'model':<16} {'cands':>6} {'decided':>8} {'approved':>9} {'acceptance':>22} {'bait rate':>20}"
    lines += [header, "-" * len(header)]
    for m in report["models"]:
        lines.append(
            f"{m['model']:<16} {m['candidates']:>6} {m['decided']:>8} {m['approved']:>9} "
            f"{_pct(m['acceptance']):>22} {_pct(m['bait']):>20}"
        )
    for c in report["comparisons"]:
        if c["difference"] is None:
            lines += ["", f"{c['b']} vs {c['a']}:"]
        else:
            lines += [
                "",
                f"{c['b']} vs {c['a']}: acceptance difference {c['difference']:+.0%}, "
                f"Fisher exact p = {c['fisher_p']:.3g}",
            ]
        if c.get("warning"):
            lines.append(f"  warning: {c['warning']}")
    perf = report.get("performance")
    if perf:
        lines += [
            "",
            f"Published posts vs your own closest in time (within {perf['window_s'] / 3600:g} h), from {perf['archive']}:",
            f"  published {perf['published']}, not found in the archive {len(perf['not_found'])}, "
            f"too young to judge {perf['too_young']}, no own post in the window {perf['no_own_post_in_window']}",
            f"  wins {perf['wins']}, losses {perf['losses']}, ties {perf['ties']} (ties left out of the rate)",
            f"  win rate {_pct(perf['win_rate'])}, exact sign test p = {perf['sign_test_p']:.3g}",
        ]
        if perf["warning"]:
            lines.append(f"  warning: {perf['warning']}")
    return "\n".join(lines) + "\n"


def _bars_svg(items: list[tuple[str, dict]], title: str) -> str:
    """Horizontal bars with 95% interval whiskers, one per (name, rate)."""
    width, row, left = 640, 34, 170
    height = 40 + row * max(1, len(items))
    scale = width - left - 30
    out = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">']
    out.append(f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>')
    for i, (name, r) in enumerate(items):
        y = 30 + i * row
        out.append(f'<text x="0" y="{y + 16}">{html.escape(name)}</text>')
        if r["rate"] is None:
            out.append(f'<text x="{left}" y="{y + 16}">no decisions</text>')
            continue
        lo, hi = r["ci95"]
        out.append(f'<rect x="{left}" y="{y + 4}" width="{r["rate"] * scale:.1f}" height="16" fill="#4c78a8"/>')
        out.append(
            f'<line x1="{left + lo * scale:.1f}" x2="{left + hi * scale:.1f}" y1="{y + 12}" y2="{y + 12}" '
            'stroke="#222" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{left + hi * scale + 6:.1f}" y="{y + 16}" font-size="12">{r["rate"]:.0%} '
            f"({r['k']}/{r['n']})</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _ratio_svg(ratios: list[float]) -> str:
    """Histogram of log2 score ratios (published / own closest in time)."""
    import math

    if not ratios:
        return "<p>No judged posts to plot.</p>"
    bins = list(range(-5, 6))
    counts = [0] * len(bins)
    for r in ratios:
        b = max(-5, min(5, round(math.log2(r))))
        counts[bins.index(b)] += 1
    top = max(counts)
    out = ['<svg width="640" height="220" role="img" aria-label="score ratio distribution">',
           '<text x="0" y="16" font-weight="bold">Score ratio, published post / your own closest in time (log2)</text>']  # fmt: skip
    for i, (b, c) in enumerate(zip(bins, counts)):
        h = 150 * c / top
        x = 20 + i * 55
        colour = "#54a24b" if b > 0 else "#e45756" if b < 0 else "#999"
        out.append(f'<rect x="{x}" y="{180 - h:.1f}" width="45" height="{h:.1f}" fill="{colour}"/>')
        out.append(f'<text x="{x + 8}" y="198" font-size="12">{"x" if b >= 0 else "/"}{2 ** abs(b)}</text>')
        out.append(f'<text x="{x + 16}" y="{175 - h:.1f}" font-size="12">{c}</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(report: dict) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>engage report</title>",
        "<style>body{font-family:sans-serif;max-width:760px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #ddd}"
        ".warn{background:#fff4d6;padding:8px}</style></head><body>",
        f"<h1>engage report</h1><p>Store {esc(report['store'])}, made {esc(report['made_at'])}.</p>",
        "<h2>Acceptance per model</h2>",
        _bars_svg([(m["model"], m["acceptance"]) for m in report["models"]], "Approved / decided, 95% Wilson"),
        _bars_svg([(m["model"], m["bait"]) for m in report["models"]], "Labelled engagement bait / decided"),
        "<table><tr><th>model</th><th>candidates</th><th>decided</th><th>approved</th><th>acceptance</th>"
        "<th>bait rate</th></tr>",
    ]
    for m in report["models"]:
        parts.append(
            f"<tr><td>{esc(m['model'])}</td><td>{m['candidates']}</td><td>{m['decided']}</td>"
            f"<td>{m['approved']}</td><td>{esc(_pct(m['acceptance']))}</td><td>{esc(_pct(m['bait']))}</td></tr>"
        )
    parts.append("</table>")
    for c in report["comparisons"]:
        if c["difference"] is not None:
            parts.append(
                f"<p>{esc(c['b'])} vs {esc(c['a'])}: difference {c['difference']:+.0%}, "
                f"Fisher exact p = {c['fisher_p']:.3g}</p>"
            )
        if c.get("warning"):
            parts.append(f"<p class='warn'>{esc(c['warning'])}</p>")
    labels = sorted({name for m in report["models"] for name in m["labels"]})
    if labels:
        parts.append("<h2>Labels per model (share of decided)</h2><table><tr><th>model</th>")
        parts += [f"<th>{esc(n)}</th>" for n in labels]
        parts.append("</tr>")
        for m in report["models"]:
            cells = "".join(f"<td>{esc(_pct(m['labels'][n])) if n in m['labels'] else '–'}</td>" for n in labels)
            parts.append(f"<tr><td>{esc(m['model'])}</td>{cells}</tr>")
        parts.append("</table>")
    perf = report.get("performance")
    if perf:
        parts.append("<h2>Published posts against your own</h2>")
        parts.append(
            f"<p>{perf['published']} published; {len(perf['not_found'])} not found in the archive; "
            f"{perf['too_young']} too young to judge; {perf['no_own_post_in_window']} with no own post within "
            f"{perf['window_s'] / 3600:g} h. Wins {perf['wins']}, losses {perf['losses']}, ties {perf['ties']}: "
            f"win rate {esc(_pct(perf['win_rate']))}, exact sign test p = {perf['sign_test_p']:.3g}.</p>"
        )
        if perf["warning"]:
            parts.append(f"<p class='warn'>{esc(perf['warning'])}</p>")
        parts.append(_ratio_svg([r["ratio"] for r in perf["posts"]]))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: dict, out: Path, force: bool = False, protect: tuple[Path, ...] = ()) -> None:
    """report.json and report.html in a new folder ``out`` (replacing one engage wrote only with ``force``),
    never holding or replacing ``protect`` (the store, the archive)."""
    with staged_folder(out, force, protect=protect) as stage:
        (stage / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (stage / "report.html").write_text(render_html(report), encoding="utf-8")
