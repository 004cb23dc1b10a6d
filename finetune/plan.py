"""Pure decisions about a job: its hyperparameters once the data set is known, its model name,
and what happens to a job whose worker vanished.

Usage: `resolve(requested, examples=120)` -> `Resolved(n_epochs=3, batch_size=1, ...)`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# LoRA's usual learning rate; `learning_rate_multiplier` scales it.
BASE_LEARNING_RATE = 2e-4
# OpenAI's rule for `auto` epochs: three, but enough passes over a small data set to see about
# 100 examples, and few enough over a large one to stay near 25,000.
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MAX_AUTO_EPOCHS = 3, 100, 25_000, 25
# Projections every Llama-family model has and vLLM's LoRA kernels can serve.
LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_LORA: dict[str, Any] = {
    "rank": 8,
    "alpha": 16.0,
    "dropout": 0.05,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
}


@dataclass(frozen=True)
class Resolved:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float

    @property
    def learning_rate(self) -> float:
        return BASE_LEARNING_RATE * self.learning_rate_multiplier

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def auto_epochs(examples: int) -> int:
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_AUTO_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / examples))
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(1, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


def auto_batch_size(examples: int) -> int:
    # Small batches on small data sets: more optimizer steps per epoch.
    return max(1, min(8, examples // 16))


def resolve(requested: dict[str, Any], examples: int) -> Resolved:
    """Fill in every `auto` (or absent) hyperparameter for a data set of `examples`."""

    def pick(name: str, auto: Any) -> Any:
        value = requested.get(name, "auto")
        return auto if value == "auto" else value

    return Resolved(
        n_epochs=int(pick("n_epochs", auto_epochs(examples))),
        batch_size=min(int(pick("batch_size", auto_batch_size(examples))), examples),
        learning_rate_multiplier=float(pick("learning_rate_multiplier", 1.0)),
    )


def total_steps(resolved: Resolved, examples: int) -> int:
    return resolved.n_epochs * math.ceil(examples / resolved.batch_size)


def model_name(base: str, org_id: str, suffix: str | None, job_id: str) -> str:
    """OpenAI's shape, `ft:<base>:<org>:<suffix>:<job>`; the suffix part is empty without one."""
    return f"ft:{base}:{org_id}:{suffix or ''}:{job_id}"


def after_worker_loss(attempts: int, max_attempts: int) -> bool:
    """True: queue the job again; False: it has failed too often and is failed."""
    return attempts < max_attempts
