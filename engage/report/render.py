"""How ``engage report`` shows what it measured: a text table on the terminal, and report.json and
report.html (with small SVG charts, no script and nothing fetched) in a folder engage writes whole or
not at all. Nothing here computes a statistic: every rate, interval and test comes from ``engage.report.measure``."""

from __future__ import annotations

import html
import json
from pathlib import Path

from engage.output import staged_folder


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
