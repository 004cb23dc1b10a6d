"""Chat templates Spark ships for models whose own template lacks something (tools, tool turns):
a catalog entry's `chat_template` names one of these (`smollm2-tools` is `smollm2-tools.jinja`
here) or gives a .jinja file of its own.

Usage: `text = load(spec.chat_template)`, then `apply_chat_template(..., chat_template=text)`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).parent


@cache
def load(name: str) -> str:
    """The template's text; read once per process (templates do not change under a server)."""
    shipped = HERE / f"{name}.jinja"
    path = shipped if shipped.exists() else Path(name).expanduser()
    return path.read_text()
