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
_SPACES = re.compile(r"[ \t\u00a0]+")


def apply_links(text: str, policy: str, placeholder: str = DEFAULT_LINK_PLACEHOLDER) -> str:
    """``strip``: no URL left in the text; ``placeholder``: each URL becomes the placeholder; ``keep``: as is."""
    if policy == "keep" or "http" not in text:
        return text
    text = _URL.sub("" if policy == "strip" else placeholder, text)
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
