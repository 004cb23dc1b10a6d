"""LoRA training with peft: the base model frozen, low-rank adapters on the chosen projections,
trained on the assistant turns of chat examples only, saved as a peft adapter folder that vLLM
loads.

Blocking and CPU/GPU-heavy: the worker runs it in a thread, hears about every step through
`on_step`, and stops it through `should_stop` (checked before every step).

Usage: `train(TrainSpec(...), on_step=print, should_stop=lambda: False)`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.dataset import Message
from finetune.plan import Resolved

log = logging.getLogger(__name__)
IGNORE = -100  # label of tokens the loss skips (prompts, padding)


class Cancelled(Exception):
    """`should_stop` said stop."""


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]


@dataclass(frozen=True)
class Step:
    step: int
    total_steps: int
    epoch: int
    train_loss: float
    trained_tokens: int
    elapsed_s: float
    # On the last step of an epoch, when there is a validation file.
    valid_loss: float | None = None


@dataclass(frozen=True)
class Result:
    steps: int
    trained_tokens: int
    train_loss: float
    valid_loss: float | None
    seconds: float


@dataclass
class TrainSpec:
    base_path: Path
    train: list[Encoded]
    hyperparameters: Resolved
    lora: dict[str, Any]
    seed: int
    out_dir: Path
    valid: list[Encoded] = field(default_factory=list)


def _render(tokenizer: Any, messages: Sequence[Message], *, prompt: bool) -> list[int]:
    # The same rendering Spark applies when it serves the model (inference/params.py).
    conversation = [
        {"role": "system" if m.role == "developer" else m.role, "content": m.content}
        for m in messages
    ]
    text = tokenizer.apply_chat_template(conversation, add_generation_prompt=prompt, tokenize=False)
    return list(tokenizer.encode(text, add_special_tokens=False))


def encode(tokenizer: Any, messages: Sequence[Message]) -> Encoded:
    """Token ids of the whole conversation, with labels only on the trained assistant turns
    (their text and end-of-turn token, so the model also learns where to stop)."""
    ids = _render(tokenizer, messages, prompt=False)
    labels = [IGNORE] * len(ids)
    for i, message in enumerate(messages):
        if not message.trained:
            continue
        start = len(_render(tokenizer, messages[:i], prompt=True))
        end = len(_render(tokenizer, messages[: i + 1], prompt=False))
        labels[start:end] = ids[start:end]
    return Encoded(ids, labels)


def _batches(rows: list[Encoded], size: int, rng: random.Random) -> list[list[Encoded]]:
    order = list(rows)
    rng.shuffle(order)
    return [order[i : i + size] for i in range(0, len(order), size)]


def _tensors(batch: list[Encoded], pad_id: int, device: Any) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids, labels, mask = [], [], []
    for e in batch:
        pad = width - len(e.input_ids)
        ids.append(e.input_ids + [pad_id] * pad)
        labels.append(e.labels + [IGNORE] * pad)
        mask.append([1] * len(e.input_ids) + [0] * pad)
    return {
        "input_ids": torch.tensor(ids, device=device),
        "labels": torch.tensor(labels, device=device),
        "attention_mask": torch.tensor(mask, device=device),
    }


def _mean_loss(model: Any, rows: list[Encoded], size: int, pad_id: int, device: Any) -> float:
    import torch

    model.eval()
    losses = []
    with torch.no_grad():
        for i in range(0, len(rows), size):
            losses.append(float(model(**_tensors(rows[i : i + size], pad_id, device)).loss))
    model.train()
    return sum(losses) / len(losses)


def train(
    spec: TrainSpec, on_step: Callable[[Step], None], should_stop: Callable[[], bool]
) -> Result:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    hp = spec.hyperparameters
    rng = random.Random(spec.seed)  # noqa: S311  # shuffling, seeded to be reproducible
    torch.manual_seed(spec.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(spec.base_path)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # float32 on CPU: bf16 matmuls there are slow and its gradients noisy; bf16 on GPUs.
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    base = AutoModelForCausalLM.from_pretrained(spec.base_path, dtype=dtype)
    base = base.to(device)  # type: ignore[arg-type]  # transformers wraps .to oddly
    model = get_peft_model(
        base,
        LoraConfig(
            r=spec.lora["rank"],
            lora_alpha=spec.lora["alpha"],
            lora_dropout=spec.lora["dropout"],
            target_modules=list(spec.lora["target_modules"]),
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    # A constant rate: jobs here are short, and a schedule would mostly spend it on warm-up.
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=hp.learning_rate
    )
    total = hp.n_epochs * -(-len(spec.train) // hp.batch_size)
    step, tokens, loss_value = 0, 0, float("nan")
    valid_loss = None
    for epoch in range(1, hp.n_epochs + 1):
        batches = _batches(spec.train, hp.batch_size, rng)
        for i, batch in enumerate(batches):
            if should_stop():
                raise Cancelled
            loss = model(**_tensors(batch, pad_id, device)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens += sum(len(e.input_ids) for e in batch)
            loss_value = float(loss.detach())
            if spec.valid and i == len(batches) - 1:
                valid_loss = _mean_loss(model, spec.valid, hp.batch_size, pad_id, device)
            elapsed = time.monotonic() - started
            on_step(
                Step(
                    step,
                    total,
                    epoch,
                    loss_value,
                    tokens,
                    elapsed,
                    valid_loss if i == len(batches) - 1 else None,
                )
            )
    if should_stop():
        raise Cancelled
    model.save_pretrained(str(spec.out_dir))
    return Result(step, tokens, loss_value, valid_loss, time.monotonic() - started)
