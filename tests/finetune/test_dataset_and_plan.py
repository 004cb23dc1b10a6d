"""The chat JSONL checks (streamed and whole) and the pure job planning."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from finetune.dataset import DatasetError, LineValidator, parse_examples
from finetune.plan import (
    BASE_LEARNING_RATE,
    after_worker_loss,
    auto_epochs,
    model_name,
    resolve,
    total_steps,
)
from tests.support.finetune import FACT_DATA, example, jsonl


def test_parse_examples_marks_the_trained_turns() -> None:
    data = jsonl(
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                    {"role": "assistant", "content": "Hello", "weight": 0},
                    {"role": "user", "content": "Again"},
                    {"role": "assistant", "content": "Hello again"},
                ]
            }
        ]
    )
    [(line, messages)] = parse_examples(data)
    assert line == 1
    assert [m.trained for m in messages] == [False, False, False, False, True]
    assert messages[1].content == "Hi"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant"}]}, "content"),
        ({"messages": [{"role": "assistant", "content": "a", "weight": 2}]}, "weight"),
        ({"messages": [{"role": "user", "content": "q", "weight": 1}]}, "weight"),
        ({"messages": [{"role": "assistant", "content": ""}]}, "must not be empty"),
        ({"messages": [{"role": "assistant", "content": "a", "tool_calls": []}]}, "tool_calls"),
        ({"messages": [{"role": "assistant", "content": [{"type": "image_url"}]}]}, "text part"),
        ({"messages": []}, "non-empty"),
        ({"messages": [{"role": "user", "content": "q"}]}, "assistant"),
    ],
)
def test_bad_lines(line: dict[str, object], why: str) -> None:
    data = FACT_DATA + orjson.dumps(line)
    with pytest.raises(DatasetError) as info:
        parse_examples(data)
    assert info.value.line == 9 and why in info.value.reason


@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_streamed_check_agrees_with_the_whole_file(cuts: list[int]) -> None:
    rows = [example(f"q{i}", f"a{i}") for i in range(5)]
    data = jsonl(rows) + b'{"bad": 1}\n' + jsonl(rows)

    def stream() -> None:
        v, pos = LineValidator(), 0
        for cut in [*cuts, len(data)]:
            v.feed(data[pos : pos + cut])
            pos += cut
        v.close()

    with pytest.raises(DatasetError) as streamed:
        stream()
    with pytest.raises(DatasetError) as whole:
        parse_examples(data)
    assert streamed.value.line == whole.value.line == 6


def test_streamed_count() -> None:
    v = LineValidator()
    v.feed(FACT_DATA[:10])
    v.feed(FACT_DATA[10:])
    v.close()
    assert v.examples == 8


def test_resolve_auto_and_explicit() -> None:
    auto = resolve({"n_epochs": "auto", "batch_size": "auto"}, examples=8)
    assert auto.n_epochs == 13 and auto.batch_size == 1  # ~100 examples seen in all
    assert auto.learning_rate == BASE_LEARNING_RATE
    big = resolve({}, examples=20_000)
    assert big.n_epochs == 1 and big.batch_size == 8
    mid = resolve({}, examples=1000)
    assert mid.n_epochs == 3
    explicit = resolve({"n_epochs": 2, "batch_size": 16, "learning_rate_multiplier": 5}, 8)
    assert (explicit.n_epochs, explicit.batch_size) == (2, 8)  # a batch is at most the data
    assert explicit.learning_rate == pytest.approx(5 * BASE_LEARNING_RATE)
    assert total_steps(explicit, 8) == 2


@given(st.integers(1, 100_000))
def test_auto_epochs_bounds(examples: int) -> None:
    assert 1 <= auto_epochs(examples) <= 25


def test_model_name_and_retries() -> None:
    assert model_name("smol", "org_a", "x", "ftjob-1") == "ft:smol:org_a:x:ftjob-1"
    assert model_name("smol", "org_a", None, "ftjob-1") == "ft:smol:org_a::ftjob-1"
    assert after_worker_loss(1, 3) and after_worker_loss(2, 3) and not after_worker_loss(3, 3)
