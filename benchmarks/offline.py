"""The ceiling: vLLM's offline `LLM.generate` on all prompts at once, same engine flags.
Prints one JSON line. Usage: `python -m benchmarks.offline MODEL_DIR REQUESTS MAX_TOKENS`."""

from __future__ import annotations

import sys
import time

import orjson

from benchmarks.load import PROMPTS
from benchmarks.spark_vs_vllm import ENGINE_FLAGS

if __name__ == "__main__":
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    path, requests, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    llm = LLM(model=path, enforce_eager=True, dtype="bfloat16", **ENGINE_FLAGS)
    tokenizer = llm.get_tokenizer()
    prompts: list[TokensPrompt] = []
    for i in range(requests):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            add_generation_prompt=True,
            tokenize=False,
        )
        ids = tokenizer.encode(str(text), add_special_tokens=False)
        prompts.append(TokensPrompt(prompt_token_ids=ids))
    params = SamplingParams(max_tokens=max_tokens, temperature=0)
    llm.generate(prompts[:2], params, use_tqdm=False)  # warm-up
    started = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - started
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    print(orjson.dumps({"tokens": tokens, "seconds": seconds}).decode(), flush=True)
