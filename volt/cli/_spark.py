"""`volt models`, and text from Spark's models: `volt chat`, `volt completions`,
`volt responses` (streamed to the terminal; the whole object with `--json` or `--no-stream`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from volt._client import Volt
from volt.cli._output import Column, Output
from volt.types.inference import ChatMessageParam, VoltBlock
from volt.types.responses import ResponseLifecycleEvent, ResponseTextDeltaEvent

Subparsers = Any  # argparse's _SubParsersAction is private

MODEL_COLUMNS: list[Column] = [
    ("ID", lambda m: m.id),
    ("KIND", lambda m: m.kind),
    ("CONTEXT", lambda m: m.max_model_len),
    ("OWNED BY", lambda m: m.owned_by),
]


def models(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.items(client.models.list().data, MODEL_COLUMNS)
    return 0


def model_get(client: Volt, args: argparse.Namespace, out: Output) -> int:
    out.item(
        client.models.retrieve(args.model_id), [*MODEL_COLUMNS, ("PARENT", lambda m: m.parent)]
    )
    return 0


def timing(volt: VoltBlock) -> str:
    """`[pod metro tier: ttft 12 ms, total 80 ms, 50.1 tok/s]`: where it ran, how fast."""
    t = volt.timing
    rate = f", {t.decode_tokens_per_s:.1f} tok/s" if t.decode_tokens_per_s else ""
    ttft = f"ttft {t.ttft_ms:.0f} ms, " if t.ttft_ms is not None else ""
    return f"[{volt.pod} {volt.metro} {volt.tier}: {ttft}total {t.total_ms:.0f} ms{rate}]"


def prompt_of(args: argparse.Namespace) -> str:
    """The words after the options as one prompt, or all of stdin when there are none."""
    return " ".join(args.prompt) if args.prompt else sys.stdin.read()


def _sampling(args: argparse.Namespace, max_name: str) -> dict[str, Any]:
    params: dict[str, Any] = {max_name: args.max_tokens}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    return params


def _write(out: Output, text: str | None) -> None:
    out.stdout.write(text or "")
    out.stdout.flush()


def chat(client: Volt, args: argparse.Namespace, out: Output) -> int:
    messages: list[ChatMessageParam] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt_of(args)})
    params = _sampling(args, "max_tokens")
    if out.json or args.no_stream:
        reply = client.chat.completions.create(model=args.model, messages=messages, **params)
        if out.json:
            out.data(reply)
        else:
            out.line(reply.choices[0].message.content or "")
            out.note(timing(reply.volt))
        return 0
    with client.chat.completions.stream(model=args.model, messages=messages, **params) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                _write(out, choice.delta.content)
            if chunk.volt is not None:
                out.line()
                out.note(timing(chunk.volt))
    return 0


def completions(client: Volt, args: argparse.Namespace, out: Output) -> int:
    prompt, params = prompt_of(args), _sampling(args, "max_tokens")
    if out.json or args.no_stream:
        reply = client.completions.create(model=args.model, prompt=prompt, **params)
        if out.json:
            out.data(reply)
        else:
            out.line(reply.choices[0].text)
            out.note(timing(reply.volt))
        return 0
    with client.completions.stream(model=args.model, prompt=prompt, **params) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                _write(out, choice.text)
            if chunk.volt is not None:
                out.line()
                out.note(timing(chunk.volt))
    return 0


def responses(client: Volt, args: argparse.Namespace, out: Output) -> int:
    params = _sampling(args, "max_output_tokens")
    if args.instructions:
        params["instructions"] = args.instructions
    prompt = prompt_of(args)
    if out.json or args.no_stream:
        reply = client.responses.create(model=args.model, input=prompt, **params)
        if out.json:
            out.data(reply)
        else:
            out.line(reply.output_text)
            if reply.volt is not None:
                out.note(timing(reply.volt))
        return 0
    with client.responses.stream(model=args.model, input=prompt, **params) as stream:
        for event in stream:
            if isinstance(event, ResponseTextDeltaEvent):
                _write(out, event.delta)
            elif isinstance(event, ResponseLifecycleEvent) and event.response.volt is not None:
                # The last event: `response.completed`, or `.incomplete` at the token limit.
                out.line()
                out.note(timing(event.response.volt))
    return 0


def _generation(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("prompt", nargs="*", help=f"the {what} (read from stdin when absent)")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float)
    p.add_argument("--no-stream", action="store_true", help="wait for the whole reply")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    # `volt models` alone lists them, like `volt models list`.
    models_parser = sub.add_parser("models", parents=[common], help="the models you can use")
    models_parser.set_defaults(run=models)
    each = models_parser.add_subparsers(required=False, metavar="{list,get}")
    p = each.add_parser("list", parents=[common], help="list the models you can use")
    p.set_defaults(run=models)
    p = each.add_parser("get", parents=[common], help="one model")
    p.add_argument("model_id")
    p.set_defaults(run=model_get)

    p = sub.add_parser("chat", parents=[common], help="chat with a model (streams the reply)")
    _generation(p, "message")
    p.add_argument("--system", help="a system message")
    p.set_defaults(run=chat)

    p = sub.add_parser("completions", parents=[common], help="complete a prompt (streams it)")
    _generation(p, "prompt")
    p.set_defaults(run=completions)

    p = sub.add_parser(
        "responses", parents=[common], help="a model response, Responses API (streams it)"
    )
    _generation(p, "input")
    p.add_argument("--instructions", help="a system message")
    p.set_defaults(run=responses)
