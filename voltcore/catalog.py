"""The model catalog every process reads (`Settings.models_file`): Spark serves its models,
admin lists which can be fine-tuned, the fine-tuning worker trains on them.

Usage: `by_id(settings.models_file)["smollm2-135m-instruct"].path`; `resolve(spec.path)` gives
the folder to load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from voltcore.config import Tier
from voltcore.prepare import PREPARED


class SamplingDefaults(BaseModel):
    """A model's recommended sampling, used where a request leaves the field unset (vLLM's
    `--override-generation-config`). Precedence, field by field: the request, then these, then
    the model's own `generation_config.json`, then OpenAI's defaults (temperature 1, top_p 1,
    no penalties). Bounds are the request fields' own, so a bad default fails at load."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=-1)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)


class ModelSpec(BaseModel):
    """One served model. Usage: an entry of `models:` in the models file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
    kind: Literal["chat", "embedding"]
    path: str
    tiers: list[Tier] = Field(min_length=1)
    max_model_len: int | None = Field(None, ge=16)
    max_num_seqs: int = Field(64, ge=1)
    dtype: str = "bfloat16"
    max_num_batched_tokens: int | None = Field(None, ge=16)
    # None keeps vLLM's default for the platform.
    enable_prefix_caching: bool | None = None
    # LoRA serving for fine-tuned models: adapters in one batch (0 turns LoRA off, and with it
    # fine-tuning this model), the largest rank accepted, and how many adapters stay loaded
    # (least recently used ones are evicted; None: vLLM's default, `max_loras`).
    max_loras: int = Field(0, ge=0)
    max_lora_rank: Literal[8, 16, 32, 64] = 16
    max_cpu_loras: int | None = Field(None, ge=1)
    # The chat template to render prompts with instead of the model's own (a template Spark
    # ships in inference/templates/, by name, or a .jinja file), e.g. one that also renders
    # `tools` and tool turns; and the tool-call format the model writes, which tool_choice
    # "auto" parses. Without a parser the model has no tool format, and "auto" is a 400.
    chat_template: str | None = None
    tool_parser: Literal["xlam"] | None = None
    sampling_defaults: SamplingDefaults = Field(default_factory=SamplingDefaults)


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(min_length=1)


def load_models(path: Path) -> list[ModelSpec]:
    specs = ModelsFile.model_validate(yaml.safe_load(path.read_text())).models
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate model ids in {ids}")
    return specs


def by_id(path: Path) -> dict[str, ModelSpec]:
    return {spec.id: spec for spec in load_models(path)}


def resolve(path: str) -> Path:
    """A model path from the catalog: a prepared model's name or a folder."""
    return PREPARED[path]() if path in PREPARED else Path(path).expanduser()
