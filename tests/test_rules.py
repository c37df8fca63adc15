"""Property tests for the data rules: pairing, splitting, selection, links, durations."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engage.dataset.baseline import hour_effect, rolling_median
from engage.dataset.evidence import binomial_upper_tail, noise_p_values
from engage.dataset.formats import apply_links
from engage.dataset.pairing import find_pairs
from engage.dataset.selection import top_fraction
from engage.dataset.splits import split_cutoff
from engage.durations import format_duration, parse_duration

posts_strategy = st.lists(
    st.tuples(
        st.integers(0, 20 * 3600),  # seconds
        st.integers(0, 60),  # score
        st.integers(0, 2),  # group
        st.integers(0, 6),  # text key: equal keys mean the same text
    ),
    min_size=0,
    max_size=60,
)


def arrays(posts):
    a = np.array(posts, dtype=float).reshape(-1, 4)
    return a[:, 0], a[:, 1] + 1.0, a[:, 2].astype(np.int64), a[:, 3].astype(np.int64)


@settings(max_examples=300, deadline=None)
@given(posts_strategy, st.sampled_from([60, 1800, 3 * 3600]), st.sampled_from([1.0, 1.5, 2.0, 4.0]), st.integers(0, 4))
def test_pairs_follow_every_rule(posts, window, min_ratio, cap):
    times, values, group, text = arrays(posts)
    pairs = find_pairs(times, values, group, text, window, min_ratio, cap)
    used = np.zeros(len(times), dtype=int)
    seen = set()
    for c, r, gap, ratio in zip(
        pairs.chosen.tolist(), pairs.rejected.tolist(), pairs.seconds_apart.tolist(), pairs.ratio.tolist()
    ):
        assert c != r
        assert frozenset((c, r)) not in seen, "no pair twice"
        seen.add(frozenset((c, r)))
        assert abs(times[c] - times[r]) <= window and gap == abs(times[c] - times[r])
        assert values[c] > values[r], "the higher score is chosen"
        assert values[c] >= min_ratio * values[r] * (1 - 1e-9), "the margin holds with +1 smoothing"
        assert math.isclose(ratio, values[c] / values[r])
        assert group[c] == group[r] and text[c] != text[r]
        used[c] += 1
        used[r] += 1
    assert (used <= cap).all(), "no post in more than max_pairs_per_post pairs"
    assert list(pairs.seconds_apart) == sorted(pairs.seconds_apart), "nearest in time first"

    # Greedy maximality: every qualifying pair left out has a post that was already full
    # with pairs at least as near in time.
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            gap = abs(times[i] - times[j])
            hi, lo = max(values[i], values[j]), min(values[i], values[j])
            ok = (
                gap <= window
                and hi > lo
                and hi >= lo * min_ratio * (1 - 1e-12)
                and group[i] == group[j]
                and text[i] != text[j]
            )
            if not ok or frozenset((i, j)) in seen:
                continue
            full_near = [
                k for k in (i, j)
                if sum(1 for c, r, g in zip(pairs.chosen, pairs.rejected, pairs.seconds_apart) if k in (c, r) and g <= gap) >= cap
            ]  # fmt: skip
            assert full_near, f"pair {i},{j} qualified but neither post was full"


def test_pairs_use_smoothed_ratio_so_zero_scores_pair():
    times = np.array([0.0, 60.0, 120.0])
    scores = np.array([0.0, 1.0, 3.0])
    pairs = find_pairs(times, scores + 1, np.zeros(3, np.int64), np.arange(3), 3600, 2.0, 5)
    got = {(int(c), int(r)) for c, r in zip(pairs.chosen, pairs.rejected)}
    # (1+1)/(0+1) = 2 qualifies; (3+1)/(1+1) = 2 qualifies; (3+1)/(0+1) = 4 qualifies
    assert got == {(1, 0), (2, 1), (2, 0)}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=0, max_size=80), st.floats(0, 0.99))
def test_time_split_puts_the_newest_in_test_and_never_splits_an_instant(times, fraction):
    times_arr = np.array(times, dtype=float)
    cut = split_cutoff(times_arr, fraction)
    if cut is None:
        assert len(times) < 2 or min(times) == max(times) or math.ceil(fraction * len(times) - 1e-9) == 0
        return
    test = times_arr[times_arr >= cut]
    train = times_arr[times_arr < cut]
    assert len(train) > 0, "train is never emptied by the split"
    assert train.max() < test.min(), "every test post is newer than every train post"
    wanted = min(len(times) - 1, math.ceil(fraction * len(times) - 1e-9))
    # At least the share asked for, unless that would reach into the oldest instant.
    assert len(test) >= wanted or (train == train.min()).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 1000)), min_size=1, max_size=80), st.floats(0.01, 1.0))
def test_top_fraction_keeps_the_best_and_rounds_up(rows, fraction):
    keys = np.array([r[0] for r in rows], dtype=float)
    times = np.array([r[1] for r in rows], dtype=float)
    chosen = top_fraction(keys, times, fraction)
    assert len(chosen) == min(len(rows), math.ceil(fraction * len(rows) - 1e-9))
    rest = np.setdiff1d(np.arange(len(rows)), chosen)
    if len(rest) and len(chosen):
        assert keys[chosen].min() >= keys[rest].max()


@given(
    st.text(max_size=80),
    st.sampled_from(["https://t.co/abc", "http://example.org/x?y=1&z=2", "https://x.com/a/status/1"]),
)
def test_strip_leaves_no_url_and_placeholder_marks_each(prefix, url):
    text = f"{prefix} {url} end"
    stripped = apply_links(text, "strip")
    assert "http://" not in stripped and "https://" not in stripped
    assert apply_links(text, "placeholder", "<link>").count("<link>") >= 1
    assert apply_links(text, "keep") == text


@given(st.integers(1, 10**6), st.sampled_from(["s", "m", "h", "d"]))
def test_durations_round_trip(n, unit):
    delta = parse_duration(f"{n}{unit}")
    assert parse_duration(format_duration(delta)) == delta


def test_duration_examples_and_errors():
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "6", "h", "-1h", "6 hours", "1y"):
        try:
            parse_duration(bad)
        except ValueError as exc:
            assert "duration" in str(exc)
        else:
            raise AssertionError(f"{bad!r} parsed")


def test_rolling_median_matches_brute_force():
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 400 * 86400, 500))
    values = rng.gamma(2, 3, 500)
    half = 30 * 86400
    got = rolling_median(times, values, half)
    step = half / 30
    for i in range(0, 500, 37):
        # The grid evaluates the window at the post's grid cell centre: at most half a step off.
        centre = times[0] + (math.floor((times[i] - times[0]) / step) + 0.5) * step
        window = values[(times >= centre - half) & (times <= centre + half)]
        assert got[i] == np.median(window)


def test_hour_effect_finds_a_sleeping_audience():
    rng = np.random.default_rng(2)
    times = rng.uniform(0, 200 * 86400, 4000)
    hours = (times // 3600) % 24
    expected = np.where((hours >= 2) & (hours < 6), 2.0, 20.0)
    scores = rng.poisson(expected)
    effect = hour_effect(times, scores.astype(float), 30 * 86400)
    assert effect[3] < effect[15] - 1.0, "4 a.m. posts are expected to do worse than 3 p.m. posts"


LINK_EXAMPLES = [
    ("Nuevo post en Tinybird => https://t.co/abc\n\nNext paragraph.", "Nuevo post en Tinybird\n\nNext paragraph."),
    ("Slides: https://t.co/abc and the code", "Slides and the code"),
    ("Great talk (via https://t.co/abc) today", "Great talk today"),
    ("read it here 👉 https://t.co/abc", "read it here"),
    ("read it here👉https://t.co/abc", "read it here"),
    ("Read more 👇\nhttps://t.co/abc\nThanks!", "Read more\nThanks!"),
    ("New post via https://t.co/abc", "New post"),
    ("It works: https://t.co/abc, really.", "It works, really."),
    ("See https://example.org/x. Then more", "See. Then more"),
    ("→ https://t.co/abc", ""),
    ("a -> b is the rule", "a -> b is the rule"),
]


def test_link_removal_leaves_no_dangling_pointer_on_real_shapes():
    for text, expected in LINK_EXAMPLES:
        assert apply_links(text, "strip") == expected, text


_WORDS = st.sampled_from(["Rust", "is", "fine", "tests", "matter", "the", "post", "today", "Next", "paragraph"])
_LINK_URLS = st.sampled_from(["https://t.co/AbC123", "http://example.org/x?y=1&z=2", "https://x.com/a/status/1"])
_POINTED = st.sampled_from(["", "=>", "->", "👉", "👉🏽", "👇", "→", "via", "-", "|", ":"])
_segment = st.one_of(
    st.tuples(st.just("word"), _WORDS),
    st.tuples(st.just("link"), _POINTED, _LINK_URLS, st.booleans(), st.sampled_from(["", ".", ",", "!"])),
)


def _render(segments, seps) -> tuple[str, list[str]]:
    """A post with links mid-text, and the words a reader must still find, in order."""
    out, words = "", []
    for seg, sep in zip(segments, seps):
        if seg[0] == "word":
            out += seg[1]
            words.append(seg[1])
        else:
            _, pointer, url, bracket, punct = seg
            body = url if not pointer else (f"{pointer} {url}" if pointer != ":" else f"x: {url}")
            if pointer == ":":
                words.append("x")
            out += (f"({body})" if bracket else body) + punct
        out += sep
    return out.strip(), words


@settings(max_examples=300, deadline=None)
@given(st.lists(_segment, min_size=1, max_size=12), st.data())
def test_stripped_links_leave_readable_text(segments, data):
    seps = data.draw(
        st.lists(st.sampled_from([" ", " ", "\n", "\n\n"]), min_size=len(segments), max_size=len(segments))
    )
    text, words = _render(segments, seps)
    out = apply_links(text, "strip")
    assert "http" not in out and "t.co" not in out
    tokens = out.replace("\n", " ").split()
    assert [t.strip("().,!") for t in tokens if t.strip("().,!")] == words, "every word stays, in order, nothing else"
    assert "()" not in out and "( )" not in out
    for line in out.split("\n"):
        assert line == line.strip() and "  " not in line
        assert not line.startswith((".", ",", "!")), "no punctuation left stranded where a link led a line"
    assert apply_links(out, "strip") == out


@given(st.text(max_size=60).filter(lambda t: "http" not in t))
def test_text_without_links_is_left_alone(text):
    assert apply_links(text, "strip") == text


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.sampled_from([0.5, 0.1, 0.3, 0.7, 0.9]))
def test_binomial_tail_is_exact_and_the_fast_path_never_understates(k, extra, p):
    from fractions import Fraction

    n = k + extra
    q = Fraction(p)
    exact = sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1))
    assert math.isclose(binomial_upper_tail(k, n, p), float(exact), rel_tol=1e-9, abs_tol=1e-300)
    fast = noise_p_values(np.array([k]), np.array([extra]), np.array([p]))[0]
    assert fast >= float(exact) * (1 - 1e-9), "a bound may only be more cautious than the exact value"
    assert fast <= 1e-12 or math.isclose(fast, float(exact), rel_tol=1e-9, abs_tol=1e-300)


def test_a_pair_won_by_one_like_is_noise_and_a_clear_lead_is_not():
    times = np.array([0.0, 600.0, 5000.0, 5600.0, 10000.0, 10600.0])
    events = np.array([1, 0, 5, 0, 4, 0])
    values = events + 1.0
    args = (np.zeros(6, dtype=np.int64), np.arange(6), 3600, 2.0, 5)
    without = find_pairs(times, values, *args)
    assert len(without) == 3, "every pair passes a ratio of 2 with +1 smoothing"
    pairs = find_pairs(times, values, *args, events=events, alpha=0.05)
    assert list(zip(pairs.chosen.tolist(), pairs.rejected.tolist())) == [(2, 3)], "5 vs 0 (p = 1/32) only"
    assert pairs.noise_dropped == 2
    # At an hour that brings the chosen post 3 times the audience, 5 vs 0 is no longer evidence about the words.
    exposure = np.array([1.0, 1.0, 3.0, 1.0, 1.0, 1.0])
    assert len(find_pairs(times, values / exposure, *args, events=events, exposure=exposure, alpha=0.05)) == 0


counted_posts = st.lists(
    st.tuples(st.integers(0, 6 * 3600), st.integers(0, 30), st.integers(0, 1), st.floats(0.5, 2.0)),
    min_size=0,
    max_size=50,
)


@settings(max_examples=300, deadline=None)
@given(counted_posts, st.sampled_from([0.01, 0.05, 0.2, 1.0]), st.sampled_from([1.0, 2.0]))
def test_every_kept_pair_carries_evidence_at_its_counts(posts, alpha, min_ratio):
    times = np.array([p[0] for p in posts], dtype=float)
    events = np.array([p[1] for p in posts], dtype=np.int64)
    group = np.array([p[2] for p in posts], dtype=np.int64)
    exposure = np.array([p[3] for p in posts], dtype=float)
    values = (events + 1.0) / exposure
    keys = np.arange(len(posts))
    pairs = find_pairs(times, values, group, keys, 3600, min_ratio, 3, events, exposure, alpha)
    for c, r in zip(pairs.chosen.tolist(), pairs.rejected.tolist()):
        p0 = exposure[c] / (exposure[c] + exposure[r])
        assert binomial_upper_tail(int(events[c]), int(events[c] + events[r]), p0) <= alpha * (1 + 1e-9)
    if alpha == 1.0:
        plain = find_pairs(times, values, group, keys, 3600, min_ratio, 3)
        assert plain.chosen.tolist() == pairs.chosen.tolist() and pairs.noise_dropped == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4 * 3600), st.integers(0, 40), st.booleans()), max_size=40))
def test_thread_continuations_never_pair_with_standalone_posts(rows):
    from datetime import datetime, timezone

    from archive_parsers.post import ORIGINAL, THREAD, Post
    from engage.dataset.rules import match_groups

    posts = [
        Post(str(i), datetime.fromtimestamp(t, timezone.utc), f"text {i}", s, 0, THREAD if th else ORIGINAL)
        for i, (t, s, th) in enumerate(rows)
    ]
    times = np.array([r[0] for r in rows], dtype=float)
    values = np.array([r[1] for r in rows], dtype=float) + 1
    for match in ((), ("media", "link", "quote")):
        pairs = find_pairs(times, values, match_groups(posts, match), np.arange(len(rows)), 3600, 1.0, 5)
        for c, r in zip(pairs.chosen.tolist(), pairs.rejected.tolist()):
            assert posts[c].kind == posts[r].kind
