"""How posts become training text: the link policy, the prompt, and the TRL row formats."""

from __future__ import annotations

import re
import string

LINK_POLICIES = ("strip", "keep", "placeholder")
FORMATS = ("text", "chat")
DEFAULT_PROMPT = "Write a post in the voice of @{handle}:\n"
DEFAULT_LINK_PLACEHOLDER = "<link>"
PROMPT_FIELDS = ("handle", "display_name")

_URL = re.compile(r"https?://\S+")
_TRAILING = ".,;:!?)]"  # sentence punctuation right after a link is the sentence's, not the link's
_SPACES = re.compile(r"[ \t\u00a0]+")
_GONE = "\x00"  # where a stripped link stood, while the text around it is tidied
# What points at a link and means nothing once it is gone. Arrows and pointing hands may touch the
# word before them; "via", dashes and bars stand apart.
POINTERS = ("=>", "->", "-->", "→", "⇒", "➡️", "➡", "➜", "👉", "👇", "⬇️", "⬇", "🔗")
WORD_POINTERS = ("-", "–", "—", "|", "via", "Via", "VIA")
_SKIN_TONES = "\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"
_BRACKET_WORDS = ("see", "See", "here", "link", "Link", "link:", "Link:")
_LAST_CHARS = frozenset(c[-1] for c in (*POINTERS, *WORD_POINTERS, ":")) | frozenset(_SKIN_TONES)
_GONE_BEFORE_PUNCT = re.compile(rf"(?:[ \t]*{_GONE})+[ \t]*(?=[.,;:!?)\]])")
_GONE_LEADS = re.compile(rf"^(?:[ \t]*{_GONE}[ \t]*[.,;:!?]*)+")


def _drop_pointer(head: str) -> str | None:
    """``head`` (right-stripped) without the pointer it ends with, or None when it ends with none."""
    if not head or head[-1] not in _LAST_CHARS:
        return None
    body = head.rstrip(_SKIN_TONES)
    for pointer in POINTERS:
        if body.endswith(pointer):
            return body[: -len(pointer)]
    for word in WORD_POINTERS:
        if body.endswith(word) and (len(body) == len(word) or body[-len(word) - 1] in " \t\n([\u00a0"):
            return body[: -len(word)]
    if body.endswith(":") and len(body) > 1 and body[-2].isalnum():
        return body[:-1]
    return None


def _only_pointers(line: str) -> bool:
    """Whether a line holds nothing but links, pointers and punctuation."""
    rest = line.replace(_GONE, " ").strip(" \t.,;:!?)]")
    while rest:
        cut = _drop_pointer(rest)
        if cut is None:
            return False
        rest = cut.strip(" \t.,;:!?")
    return True


def strip_links(text: str) -> str:
    """The text with every URL taken out and what pointed at it too, so sentences stay readable.

    "Slides: https://… and more" becomes "Slides and more"; "read it => https://…" becomes
    "read it"; "(via https://…)" goes entirely; "see https://x.org." keeps its full stop; a line
    that held only a link (and arrows at it) goes. Text without a link is returned unchanged.
    """
    if "http" not in text:
        return text
    pieces, at = [], 0
    for m in _URL.finditer(text):
        end = m.end()
        while text[end - 1] in _TRAILING and end - m.start() > 8:
            end -= 1
        pieces.append(text[at : m.start()])
        at = end
    if not pieces:
        return text
    pieces.append(text[at:])
    out = pieces[0]
    for right in pieces[1:]:
        head, cut = out.rstrip(), False
        while (shorter := _drop_pointer(head)) is not None:
            head, cut = shorter.rstrip(), True
        tail = head[-8:]
        if ("(" in tail or "[" in tail) and right.lstrip()[:1] in (")", "]"):
            opened = head
            for word in _BRACKET_WORDS:
                if opened.endswith(word) and opened[: -len(word)].rstrip().endswith(("(", "[")):
                    opened = opened[: -len(word)].rstrip()
                    break
            if opened.endswith(("(", "[")):
                head, right, cut = opened[:-1].rstrip(), right.lstrip()[1:], True
        out = (head if cut else out) + _GONE + right
    lines = []
    for line in out.split("\n"):
        if _GONE in line:
            if _only_pointers(line):
                continue  # the line was a link and what pointed at it
            if line.lstrip(" \t")[:1] == _GONE:
                line = _GONE_LEADS.sub("", line)
            line = _GONE_BEFORE_PUNCT.sub("", line).replace(_GONE, " ")
        lines.append(_SPACES.sub(" ", line).strip())
    out = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", out) if "\n\n\n" in out else out


def apply_links(text: str, policy: str, placeholder: str = DEFAULT_LINK_PLACEHOLDER) -> str:
    """``strip``: no URL left in the text, nor what pointed at it; ``placeholder``: each URL becomes the placeholder; ``keep``: as is."""
    if policy == "keep" or "http" not in text:
        return text
    if policy == "strip":
        return strip_links(text)
    text = _URL.sub(placeholder, text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines).strip()


def check_prompt(template: str) -> None:
    """Raise ValueError unless every ``{field}`` in the template is one we fill."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"the prompt template is malformed ({exc}); write {{{{ and }}}} for literal braces") from None
    unknown = sorted({f for f in fields if f not in PROMPT_FIELDS})
    if unknown:
        raise ValueError(
            f"the prompt template uses {{{unknown[0]}}}, which is not filled in; it may use "
            + ", ".join("{" + f + "}" for f in PROMPT_FIELDS)
        )


def prompt_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render_prompt(template: str, handle: str, display_name: str) -> str:
    return template.format(handle=handle, display_name=display_name or handle)


def sft_row(prompt: str, completion: str, fmt: str) -> dict:
    if fmt == "chat":
        return {
            "prompt": [{"role": "user", "content": prompt.strip()}],
            "completion": [{"role": "assistant", "content": completion}],
        }
    return {"prompt": prompt, "completion": completion}


def dpo_row(prompt: str, chosen: str, rejected: str, fmt: str) -> dict:
    if fmt == "chat":
        return {
            "prompt": [{"role": "user", "content": prompt.strip()}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
