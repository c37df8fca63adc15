"""``engage sample-archive``: a synthetic X archive with the real format's quirks.

Engagement depends on the words, on the audience, which grows over the years, on the hour of
day and day of week, and on pictures and links, as on a real account. The words' effect is the
simulated audience's taste (``engage.simulation.audience.word_quality``: a documented function of
the text that scores any post, generated ones too), engagement bait included: the owner ends
some posts with bait, and the audience rewards it. The word quality of every post is returned so
that tests and benchmarks can check how well the DPO pairs pick the better-worded post.

Eras: ``2019`` (bare items in ``tweet.js`` at the zip root, no manifest), ``2021``
(``{"tweet": …}`` items in ``data/tweet.js``), ``2024`` (``data/tweets.js`` plus
``tweets-partN.js`` parts, long posts in ``note-tweet.js``, edits, community posts).

Every era also holds thread continuations (the owner replying to their own post: a later part
meets a fraction of the first part's audience) and links placed mid-sentence behind arrows,
"via" or a colon. ``followers`` sets the audience at the archive's end (about 9,000 by
default for 2,000 posts or more, scaled down with fewer posts), so ``posts=300`` is a small
account whose posts mostly get 0 to 5 likes. Threads and link placement draw on their own
random stream, so every post keeps the time and words a seed gave it before they were added.
"""

from __future__ import annotations

import html
import json
import math
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from archive_parsers.x_text import SNOWFLAKE_EPOCH_MS
from engage.simulation.audience import BAIT, BAIT_RATE, CLAIMS, CLOSERS, EXTRAS, OPENERS, TOPICS, word_quality

ERAS = ("2019", "2021", "2024")
_GENERATED = {"2019": datetime(2019, 6, 3, 9, 12, 5, tzinfo=timezone.utc),
              "2021": datetime(2021, 9, 20, 17, 40, 11, tzinfo=timezone.utc),
              "2024": datetime(2024, 11, 16, 11, 33, 22, 222000, tzinfo=timezone.utc)}  # fmt: skip
SPAN_DAYS = 4 * 365
OWNER_ID = "1234567"
END_FOLLOWERS = 300 * math.exp(0.85 * SPAN_DAYS / 365)  # the audience at the archive's end, by default
FULL_SIZE_POSTS = 2000  # below this many posts the default audience shrinks in proportion
THREAD_CHANCE = 0.3  # an original post within THREAD_GAP of the owner's previous post continues its thread
THREAD_GAP = timedelta(minutes=45)
THREAD_REACH = 0.4  # each later part of a thread reaches this share of the audience of the part before
POINTERS = ["=> ", "-> ", "via ", "more: ", "(", "👉 "]

FRIENDS = ["ada_l", "grace_h", "linus_t", "guido_vr", "barbara_l", "ken_t"]
LANGS = ["en"] * 30 + ["und", "qme", "zxx", "de", "fr"]


@dataclass
class SampleTruth:
    """What the generator knows and the archive does not say."""

    quality: dict[str, float] = field(default_factory=dict)  # hidden word effect, per post id
    kind: dict[str, str] = field(default_factory=dict)  # what each written id is meant to be
    generated_at: datetime | None = None
    handle: str = "sample_owner"


def _snowflake(dt: datetime, seq: int) -> int:
    ms = int(dt.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS
    return (ms << 22) | (seq & 0x3FFFFF)


def _x_time(dt: datetime) -> str:
    return dt.strftime("%a %b %d %H:%M:%S +0000 %Y")


class _Gen:
    def __init__(self, n: int, seed: int, era: str, handle: str, followers: float | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.extra = np.random.default_rng([seed, 12])  # threads and link shapes: the main stream stays as it was
        if followers is None:
            followers = END_FOLLOWERS * min(1.0, n / FULL_SIZE_POSTS)
        self.audience_scale = followers / END_FOLLOWERS
        self.last_own: tuple[datetime, str, int] | None = None  # the owner's latest standalone or thread post
        self.n, self.era, self.handle = n, era, handle
        self.generated = _GENERATED[era]
        self.seq = 0
        self.truth = SampleTruth(generated_at=self.generated, handle=handle)
        self.tweets: list[dict] = []
        self.community: list[dict] = []
        self.deleted: list[dict] = []
        self.notes: list[dict] = []
        self.media_files: list[str] = []

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def next_id(self, dt: datetime) -> str:
        self.seq += 1
        return str(_snowflake(dt, self.seq * 7 + 3))

    def words(self) -> tuple[str, float]:
        """A post's words and their quality, as the simulated audience scores them (engage.simulation.audience)."""
        parts = [self.pick(OPENERS), self.pick(TOPICS), self.pick(CLAIMS), self.pick(EXTRAS), self.pick(CLOSERS)]
        topic = parts[1][0]
        sentence = f"{parts[0][0]} {topic} {parts[2][0]}.".strip()
        sentence = sentence[0].upper() + sentence[1:] if parts[0][0] == "" else sentence
        if self.rng.random() < 0.3:
            sentence += f" Day {int(self.rng.integers(1, 400))}."
        bait = self.pick(BAIT)[0] if self.rng.random() < BAIT_RATE else ""
        text = " ".join(p for p in (sentence, parts[3][0], parts[4][0], bait) if p)
        return text, word_quality(text)

    def times(self) -> list[datetime]:
        """Post times in sessions of 1-5 posts; the owner posts mostly in the day, sometimes at night."""
        owner_hours = np.array(
            [1, 0.6, 0.4, 0.5, 0.6, 0.5, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 3.5, 3, 3, 2.5, 2, 1.5, 1.2]
        )
        owner_hours = owner_hours / owner_hours.sum()
        start = self.generated - timedelta(days=SPAN_DAYS)
        out: list[datetime] = []
        while len(out) < self.n:
            # later years have more posts (the owner got more active as the account grew)
            day = SPAN_DAYS * math.sqrt(self.rng.random())
            hour = int(self.rng.choice(24, p=owner_hours))
            t = start + timedelta(days=int(day), hours=hour, minutes=float(self.rng.uniform(0, 60)))
            for _ in range(int(self.rng.integers(1, 6))):
                if t < self.generated - timedelta(minutes=5):
                    out.append(t)
                t += timedelta(minutes=float(self.rng.exponential(25)) + 1)
        out = sorted(out[: self.n])
        return out

    def engagement(
        self, dt: datetime, quality: float, media: bool, link: bool, quote: bool, reach: float = 1.0
    ) -> tuple[int, int]:
        years = (dt - (self.generated - timedelta(days=SPAN_DAYS))).days / 365
        followers = 300 * math.exp(0.85 * years) * self.audience_scale  # ~30x growth over four years
        hour = dt.hour + dt.minute / 60
        audience = 0.25 + 0.75 * math.exp(-(((hour - 16) / 4.5) ** 2) / 2) * 1.3  # asleep at 4 a.m. UTC
        weekday = 0.85 if dt.weekday() >= 5 else 1.0
        factor = (1.6 if media else 1.0) * (0.7 if link else 1.0) * (0.9 if quote else 1.0) * reach
        age_days = (self.generated - dt).total_seconds() / 86400
        settled = 1 - math.exp(-age_days / 1.5)  # counts still coming in for recent posts
        mu = 0.01 * followers * audience * weekday * factor * math.exp(1.2 * quality) * settled
        mu = float(self.rng.gamma(4.0, mu / 4.0)) if mu > 0 else 0.0
        likes = int(self.rng.poisson(mu))
        reposts = int(self.rng.poisson(mu * 0.12 * math.exp(0.5 * quality)))
        return likes, reposts

    def escaped_with_links(self, pieces: list) -> tuple[str, list[dict], list[dict]]:
        """pieces: str (plain text) or ("url"|"media", short, expanded). Returns escaped text and entities."""
        text, urls, media = "", [], []
        for piece in pieces:
            if isinstance(piece, str):
                text += html.escape(piece, quote=False)
                continue
            kind, short, expanded = piece
            a = len(text)
            text += short
            ent = {"url": short, "expanded_url": expanded, "display_url": expanded.split("//", 1)[-1][:26],
                   "indices": [str(a), str(len(text))]}  # fmt: skip
            if kind == "media":
                ent.update(id_str=str(int(self.rng.integers(10**17, 10**18))), type="photo",
                           media_url_https=f"https://pbs.twimg.com/media/{short[-8:]}.jpg")  # fmt: skip
                media.append(ent)
            else:
                urls.append(ent)
        return text, urls, media

    def tco(self) -> str:
        return "https://t.co/" + "".join(
            self.pick("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10)
        )

    def item(self, pid: str, dt: datetime, full_text: str, urls, media, likes: int, reposts: int, **extra) -> dict:
        t = {
            "retweeted": False,
            "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
            "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": urls},
            "display_text_range": ["0", str(len(full_text))],
            "favorite_count": str(likes),
            "id_str": pid,
            "truncated": False,
            "retweet_count": str(reposts),
            "id": pid,
            "possibly_sensitive": False,
            "created_at": _x_time(dt),
            "favorited": False,
            "full_text": full_text,
            "lang": self.pick(LANGS) if not media else "en",
        }
        if media:
            t["entities"]["media"] = media
            t["extended_entities"] = {"media": media}
        if self.era == "2024":
            t["edit_info"] = {"initial": {"editTweetIds": [pid], "editableUntil": _x_iso(dt + timedelta(hours=1)),
                                          "editsRemaining": "5", "isEditEligible": True}}  # fmt: skip
        t.update(extra)
        return t

    def build(self) -> None:
        for dt in self.times():
            r = self.rng.random()
            modern = self.era == "2024"
            if r < 0.08:
                self.repost(dt)
            elif r < 0.22:
                self.post(dt, reply=True)
            elif modern and r < 0.25:
                self.post(dt, long=True)
            elif modern and r < 0.27:
                self.edited(dt)
            elif r < 0.29 and self.era != "2019":
                self.post(dt, community=True)
            elif r < 0.30 and self.era != "2019":  # deleted-tweets.js came later
                self.post(dt, deleted=True)
            else:
                self.post(dt, thread=self.thread_parent(dt))

    def thread_parent(self, dt: datetime) -> tuple[str, int] | None:
        """The owner's post this one continues (its id, and this post's place in the thread), or None."""
        last = self.last_own
        if last is None or dt - last[0] > THREAD_GAP or self.extra.random() >= THREAD_CHANCE:
            return None
        return last[1], last[2] + 1

    def thread_fields(self, parent: str) -> dict:
        """A reply to the owner: user id always, screen name in any case or missing, as archives have it."""
        extra = {"in_reply_to_status_id_str": parent, "in_reply_to_status_id": parent,
                 "in_reply_to_user_id_str": OWNER_ID, "in_reply_to_user_id": OWNER_ID}  # fmt: skip
        r = self.extra.random()
        if r < 0.7:
            extra["in_reply_to_screen_name"] = self.handle if r < 0.5 else self.handle.upper()
        return extra

    def link_pieces(self, visible: str, emoji: bool) -> tuple[str, str]:
        """Where a link goes: after the first sentence (as before), or mid-sentence behind a pointer."""
        cut = visible.find(". ")
        if self.extra.random() < 0.5:
            spaces = [i for i, ch in enumerate(visible) if ch == " "]
            if spaces:
                at = spaces[int(self.extra.integers(len(spaces)))]
                pointer = POINTERS[int(self.extra.integers(len(POINTERS)))]
                return visible[:at] + " " + pointer, visible[at:]
        head, tail = (visible[: cut + 2], visible[cut + 2 :]) if cut > 0 else (visible + " ", "")
        return head + ("👉 " if emoji else ""), tail

    def post(self, dt, reply=False, long=False, community=False, deleted=False, text=None, quality=None,
             pid=None, counts=None, extra=None, thread: tuple[str, int] | None = None) -> dict:  # fmt: skip
        if text is None:
            text, quality = self.words()
            if long:
                text = " ".join([text] + [self.words()[0] for _ in range(4)])
                quality = word_quality(text)
        pid = pid or self.next_id(dt)
        r = self.rng.random()
        media = r < 0.2
        link = 0.2 <= r < 0.32
        quote = 0.32 <= r < 0.37 and not long
        pieces: list = []
        mention = ""
        if reply:
            mention = f"@{self.pick(FRIENDS)} "
            if self.rng.random() < 0.3:
                mention += f"@{self.pick(FRIENDS)} "
            pieces.append(mention)
        elif thread is not None and self.extra.random() < 0.5:  # older clients put the owner's own @handle first
            mention = f"@{self.handle} "
            pieces.append(mention)
        visible = text
        if long:  # tweets.js holds a cut text ending in "…"
            visible = text[: 270 - len(mention)].rstrip() + "…"
        if link:
            head, tail = self.link_pieces(visible, self.rng.random() < 0.5)  # an emoji: indices count code points
            pieces += [head, ("url", self.tco(), f"https://example.org/post/{int(self.rng.integers(1, 999))}?a=1&b=2")]
            if tail:
                pieces += [(")" if head.endswith("(") else "") + " " + tail.lstrip()]
            elif head.endswith("("):
                pieces += [")"]
        else:
            pieces.append(visible)
        if quote:
            pieces += [
                " ",
                (
                    "url",
                    self.tco(),
                    f"https://{self.pick(['twitter', 'x'])}.com/{self.pick(FRIENDS)}/status/{int(self.rng.integers(10**17, 2**62))}",
                ),
            ]
        if media:
            key = int(self.rng.integers(10**17, 10**18))
            pieces += [" ", ("media", self.tco(), f"https://twitter.com/{self.handle}/status/{pid}/photo/1")]
            self.media_files.append(f"{pid}-{key}.jpg")
        full, urls, media_ents = self.escaped_with_links(pieces)
        reach = THREAD_REACH ** thread[1] if thread is not None else 1.0
        likes, reposts = counts if counts is not None else self.engagement(dt, quality, media, link, quote, reach)
        extra = dict(extra or {})
        if thread is not None:
            extra.update(self.thread_fields(thread[0]))
        if reply:
            parent = str(_snowflake(dt - timedelta(minutes=30), 11))
            if self.rng.random() < 0.15:  # an old mention-style reply: only the user id
                extra["in_reply_to_user_id"] = extra["in_reply_to_user_id_str"] = str(
                    int(self.rng.integers(10**6, 10**9))
                )
            else:
                extra.update(in_reply_to_status_id_str=parent, in_reply_to_status_id=parent,
                             in_reply_to_user_id_str="1234", in_reply_to_user_id="1234")  # fmt: skip
                if self.rng.random() < 0.8:
                    extra["in_reply_to_screen_name"] = mention.split()[0][1:]
        if community:
            extra["community_id"] = "1500000000000000001"
            extra["community_id_str"] = "1500000000000000001"
        item = self.item(pid, dt, full, urls, media_ents, likes, reposts, **extra)
        kind = "reply" if reply else "community" if community else "quote" if quote else "original"
        if thread is not None:
            kind = "thread"
        if kind in ("original", "quote", "thread") and not deleted and not long:
            self.last_own = (dt, pid, thread[1] if thread is not None else 0)
        if deleted:
            item["deleted_at"] = _x_time(dt + timedelta(days=1))
            self.deleted.append(item)
            kind = "deleted"
        elif community:
            self.community.append(item)
        else:
            self.tweets.append(item)
        self.truth.kind[pid] = kind
        self.truth.quality[pid] = float(quality)
        if long:
            note_id = str(int(pid) - (int(self.rng.integers(5, 40)) << 22) - 1)
            self.notes.append({"noteTweet": {
                "noteTweetId": note_id, "updatedAt": _x_iso(dt), "createdAt": _x_iso(dt),
                "lifecycle": {"value": "1", "name": "Active", "originalName": "Active", "annotations": {}},
                "core": {"styletags": [], "text": text, "urls": [], "mentions": [], "hashtags": [], "cashtags": []}}})  # fmt: skip
            self.truth.kind[pid] = "long"
        return item

    def repost(self, dt) -> None:
        other, _ = self.words()
        text = f"RT @{self.pick(FRIENDS)}: {other} {other}"
        text = text[:139] + "…" if len(text) > 140 else text
        pid = self.next_id(dt)
        self.tweets.append(self.item(pid, dt, html.escape(text, quote=False), [], [], 0, 0))
        self.truth.kind[pid] = "repost"

    def edited(self, dt) -> None:
        text, quality = self.words()
        versions = int(self.rng.integers(2, 4))
        times = [dt + timedelta(minutes=3 * k) for k in range(versions)]
        ids = [self.next_id(t) for t in times]
        final_counts = self.engagement(dt, quality, False, False, False)
        for k, (t, pid) in enumerate(zip(times, ids)):
            last = k == versions - 1
            body = text if last else text.replace(".", "", 1) + " (typo)"
            item = self.post(t, text=body, quality=quality, pid=pid, counts=final_counts if last else (0, 0))
            if k == 0:
                item["edit_info"] = {"initial": {"editTweetIds": ids, "editableUntil": _x_iso(dt + timedelta(hours=1)),
                                                 "editsRemaining": str(5 - versions + 1), "isEditEligible": True}}  # fmt: skip
            else:
                item["edit_info"] = {"edit": {"initialTweetId": ids[0], "editControlInitial": {
                    "editTweetIds": ids, "editableUntil": _x_iso(dt + timedelta(hours=1)),
                    "editsRemaining": "0", "isEditEligible": True}}}  # fmt: skip
            self.truth.kind[pid] = "edit_final" if last else "edit_superseded"


def _x_iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _js(global_name: str, items, ensure_ascii: bool) -> bytes:
    if not items:
        return f"window.{global_name} = [ ]".encode()
    body = json.dumps(items, indent=2, separators=(",", " : "), ensure_ascii=ensure_ascii)
    return f"window.{global_name} = {body}".encode()


SAMPLE_MARK = b"engage sample-archive: synthetic posts, not a real X archive"


def is_sample_archive(path: Path) -> bool:
    """Whether ``path`` is a zip ``engage sample-archive`` wrote (its comment says so), so --force may replace it."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.comment == SAMPLE_MARK
    except (OSError, zipfile.BadZipFile):
        return False


def fresh_posts(n: int, seed: int = 1_000_003) -> list[str]:
    """``n`` short posts the sample owner could write next, from the same words, in no archive: the
    reference a model that writes like the owner (without repeating them) is compared with."""
    gen = _Gen(n, seed, "2024", "sample_owner")
    return [gen.words()[0] for _ in range(n)]


def write_sample_archive(
    out: Path, posts: int = 2000, seed: int = 0, era: str = "2024", folder: bool = False,
    posts_per_part: int | None = None, handle: str = "sample_owner", followers: float | None = None,
) -> SampleTruth:  # fmt: skip
    """Write a synthetic archive to ``out`` (a .zip, or a folder with ``folder=True``).

    ``followers``: the audience at the archive's end (default: END_FOLLOWERS, scaled down below
    FULL_SIZE_POSTS posts, so small archives are small, low-engagement accounts).
    """
    if era not in ERAS:
        raise ValueError(f"era must be one of {ERAS}")
    gen = _Gen(posts, seed, era, handle, followers)
    gen.build()
    order = gen.rng.permutation(len(gen.tweets))  # file order is not chronological
    tweets = [gen.tweets[i] for i in order]
    files: dict[str, bytes] = {}
    modern, bare = era == "2024", era == "2019"
    data = "" if bare else "data/"
    wrap = (lambda items: items) if bare else (lambda items: [{"tweet": t} for t in items])
    stem, gname = ("tweets", "tweets") if modern else ("tweet", "tweet")
    if posts_per_part is None:
        posts_per_part = max(1, min(70_000, math.ceil(len(tweets) / 2))) if modern else max(1, len(tweets))
    manifest_files = []
    for k in range(0, max(1, len(tweets)), posts_per_part):
        part = k // posts_per_part
        name = f"{data}{stem}.js" if part == 0 else f"{data}{stem}-part{part}.js"
        chunk = tweets[k : k + posts_per_part]
        files[name] = _js(f"YTD.{gname}.part{part}", wrap(chunk), ensure_ascii=not modern or part % 2 == 1)
        manifest_files.append({"fileName": name, "globalName": f"YTD.{gname}.part{part}", "count": str(len(chunk))})
    if not bare:
        files[f"{data}community-tweet.js"] = _js("YTD.community_tweet.part0", wrap(gen.community), not modern)
        files[f"{data}deleted-tweets.js"] = _js("YTD.deleted_tweets.part0", wrap(gen.deleted), not modern)
    if modern:
        files[f"{data}note-tweet.js"] = _js("YTD.note_tweet.part0", gen.notes, False)
    files[f"{data}tweet-headers.js"] = _js("YTD.tweet_headers.part0", [
        {"tweet": {"tweet_id": t["id_str"], "user_id": OWNER_ID, "created_at": t["created_at"]}} for t in tweets], False)  # fmt: skip
    files[f"{data}account.js"] = _js("YTD.account.part0", [{"account": {
        "email": "owner@example.com", "createdVia": "web", "username": handle, "accountId": OWNER_ID,
        "createdAt": "2012-03-04T05:06:07.000Z", "accountDisplayName": "Sample Owner"}}], False)  # fmt: skip
    files[f"{data}direct-messages.js"] = _js("YTD.direct_messages.part0", [{"dmConversation": {
        "conversationId": "1-2", "messages": [{"messageCreate": {"text": "PRIVATE: never read this"}}]}}], False)  # fmt: skip
    if not bare:
        counts = {"tweets" if modern else "tweet": manifest_files}
        types = {key: {"mediaDirectory": f"data/{stem}s_media" if modern else "data/tweet_media", "files": f}
                 for key, f in counts.items()}  # fmt: skip
        if modern:
            types["noteTweet"] = {
                "files": [
                    {
                        "fileName": "data/note-tweet.js",
                        "globalName": "YTD.note_tweet.part0",
                        "count": str(len(gen.notes)),
                    }
                ]
            }
        types["communityTweet"] = {
            "files": [
                {
                    "fileName": "data/community-tweet.js",
                    "globalName": "YTD.community_tweet.part0",
                    "count": str(len(gen.community)),
                }
            ]
        }
        types["deletedTweets"] = {
            "files": [
                {
                    "fileName": "data/deleted-tweets.js",
                    "globalName": "YTD.deleted_tweets.part0",
                    "count": str(len(gen.deleted)),
                }
            ]
        }
        types["directMessages"] = {
            "files": [{"fileName": "data/direct-messages.js", "globalName": "YTD.direct_messages.part0", "count": "1"}]
        }
        types["account"] = {"files": [{"fileName": "data/account.js", "globalName": "YTD.account.part0", "count": "1"}]}
        manifest = {
            "userInfo": {"accountId": OWNER_ID, "userName": handle, "displayName": "Sample Owner"},
            "archiveInfo": {"sizeBytes": str(sum(len(b) for b in files.values())), "generationDate": _x_iso(gen.generated),
                            "isPartialArchive": False, "maxPartSizeBytes": "53687091200"},
            "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
            "dataTypes": types,
        }  # fmt: skip
        files["data/manifest.js"] = (
            "window.__THAR_CONFIG = " + json.dumps(manifest, indent=2, separators=(",", " : "))
        ).encode()
    files["Your archive.html"] = b"<!doctype html><title>Your archive</title><script src='assets/js/app.js'></script>"
    files["assets/js/app.js"] = b"window.__THAR_CONFIG = {}; // viewer code, not data"
    media_dir = f"{data}{'tweets_media' if modern else 'tweet_media'}/"
    for name in gen.media_files[:50]:
        files[media_dir + name] = b"\xff\xd8\xff\xe0 not really a jpeg"

    out = Path(out)
    if folder:
        for name, blob in files.items():
            p = out / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(blob)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.comment = SAMPLE_MARK
            for name, blob in files.items():
                zf.writestr(
                    zipfile.ZipInfo(name, date_time=(2024, 11, 16, 11, 33, 22)),
                    blob,
                    compress_type=zipfile.ZIP_DEFLATED,
                )
    return gen.truth
