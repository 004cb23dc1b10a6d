"""`volt embeddings`, `volt tokenize`, `volt detokenize`: Spark's endpoints that read text
rather than write it."""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Any

from volt._client import Volt
from volt.cli._output import Column, Output
from volt.cli._spark import prompt_of, timing
from volt.types.inference import Embedding

Subparsers = Any

SHOWN_VALUES = 4  # of a vector, in the table; `--json` has them all


def _dimensions(e: Embedding) -> int:
    if isinstance(e.embedding, str):  # base64 of little-endian float32s
        return len(base64.b64decode(e.embedding)) // 4
    return len(e.embedding)


def _head(e: Embedding) -> str:
    if isinstance(e.embedding, str):
        return e.embedding[:32] + "..."
    values = ", ".join(f"{v:.4f}" for v in e.embedding[:SHOWN_VALUES])
    return f"[{values}{', ...' if len(e.embedding) > SHOWN_VALUES else ''}]"


EMBEDDING_COLUMNS: list[Column] = [
    ("INDEX", lambda e: e.index),
    ("DIMENSIONS", _dimensions),
    ("EMBEDDING", _head),
]


def embeddings(client: Volt, args: argparse.Namespace, out: Output) -> int:
    # Each argument is one input; from stdin, each non-empty line is.
    inputs = args.input or [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not inputs:
        out.note("error: nothing to embed: give the text as arguments or on stdin.")
        return 1
    made = client.embeddings.create(
        model=args.model,
        input=inputs,
        dimensions=args.dimensions,
        encoding_format=args.encoding_format,
    )
    if out.json:
        out.data(made)
        return 0
    out.items(made.data, EMBEDDING_COLUMNS)
    usage = made.usage
    out.note(f"{usage.prompt_tokens} prompt tokens, {usage.total_tokens} total {timing(made.volt)}")
    return 0


def tokenize(client: Volt, args: argparse.Namespace, out: Output) -> int:
    prompt = prompt_of(args)
    if args.chat:
        # Rendered as chat completions would render it: its count is their `prompt_tokens`.
        made = client.tokenizer.tokenize(
            model=args.model,
            messages=[{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_token_strs=args.strings or None,
        )
    else:
        made = client.tokenizer.tokenize(
            model=args.model, prompt=prompt, return_token_strs=args.strings or None
        )
    if out.json:
        out.data(made)
        return 0
    if made.token_strs is not None:
        out.items(
            list(zip(made.tokens, made.token_strs, strict=True)),
            [("ID", lambda t: t[0]), ("TOKEN", lambda t: repr(t[1]))],
        )
    else:
        out.line(" ".join(str(t) for t in made.tokens))
    out.note(f"{made.count} tokens, of a context of {made.max_model_len} {timing(made.volt)}")
    return 0


def detokenize(client: Volt, args: argparse.Namespace, out: Output) -> int:
    made = client.tokenizer.detokenize(model=args.model, tokens=args.tokens)
    if out.json:
        out.data(made)
    else:
        out.line(made.prompt)
    return 0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("embeddings", parents=[common], help="embed text (vectors with --json)")
    p.add_argument("input", nargs="*", help="one input each (else one per line of stdin)")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--dimensions", type=int, help="shorter vectors, where the model allows")
    p.add_argument("--encoding-format", choices=["float", "base64"])
    p.set_defaults(run=embeddings)

    p = sub.add_parser("tokenize", parents=[common], help="a prompt's token ids")
    p.add_argument("prompt", nargs="*", help="the text (read from stdin when absent)")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--chat", action="store_true", help="as a chat message, template included")
    p.add_argument("--strings", action="store_true", help="show each token's text")
    p.set_defaults(run=tokenize)

    p = sub.add_parser("detokenize", parents=[common], help="token ids back to text")
    p.add_argument("tokens", nargs="+", type=int, metavar="TOKEN_ID")
    p.add_argument("-m", "--model", required=True)
    p.set_defaults(run=detokenize)
