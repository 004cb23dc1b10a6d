"""vLLM's per-token logprobs in OpenAI's two shapes (chat and legacy completions)."""

from __future__ import annotations

from typing import Any


def _token(engine_tokenizer: Any, token_id: int, lp: Any) -> str:
    text = lp.decoded_token
    return text if text is not None else str(engine_tokenizer.decode([token_id]))


def _top(entries: dict[int, Any], k: int) -> list[tuple[int, Any]]:
    # vLLM returns the k most likely tokens plus the sampled one when it is not among them.
    ranked = sorted(entries.items(), key=lambda item: item[1].rank or 0)
    return [item for item in ranked if item[1].rank is not None and item[1].rank <= k][:k]


def chat_logprobs(tokenizer: Any, token_ids: Any, logprobs: Any, k: int) -> list[dict[str, Any]]:
    out = []
    for token_id, entries in zip(token_ids, logprobs or [], strict=False):
        sampled = entries[token_id]
        token = _token(tokenizer, token_id, sampled)
        out.append(
            {
                "token": token,
                "logprob": max(sampled.logprob, -9999.0),
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {
                        "token": (t := _token(tokenizer, tid, lp)),
                        "logprob": max(lp.logprob, -9999.0),
                        "bytes": list(t.encode()),
                    }
                    for tid, lp in _top(entries, k)
                ],
            }
        )
    return out


class CompletionLogprobs:
    """Accumulates the legacy `{tokens, token_logprobs, top_logprobs, text_offset}` object."""

    def __init__(self, k: int, offset: int = 0) -> None:
        self.k = k
        self.offset = offset
        self.tokens: list[str] = []
        self.token_logprobs: list[float | None] = []
        self.top_logprobs: list[dict[str, float] | None] = []
        self.text_offset: list[int] = []

    def add(self, tokenizer: Any, token_ids: Any, logprobs: Any) -> dict[str, Any]:
        start = len(self.tokens)
        for token_id, entries in zip(token_ids, logprobs or [], strict=False):
            token = _token(tokenizer, token_id, entries[token_id])
            self.tokens.append(token)
            self.token_logprobs.append(max(entries[token_id].logprob, -9999.0))
            self.top_logprobs.append(
                {
                    _token(tokenizer, tid, lp): max(lp.logprob, -9999.0)
                    for tid, lp in _top(entries, self.k)
                }
            )
            self.text_offset.append(self.offset)
            self.offset += len(token)
        return self.object(start)

    def object(self, start: int = 0) -> dict[str, Any]:
        return {
            "tokens": self.tokens[start:],
            "token_logprobs": self.token_logprobs[start:],
            "top_logprobs": self.top_logprobs[start:],
            "text_offset": self.text_offset[start:],
        }
