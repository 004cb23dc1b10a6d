"""Spark: `client.chat.completions`, `client.completions`, `client.embeddings`,
`client.models`, `client.tokenizer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Unpack

from volt._call import Call, body, path_id
from volt._resource import Executor, M, Resource, endpoint, streaming
from volt.types.common import ListObject
from volt.types.inference import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessageParam,
    ChatParams,
    Completion,
    CompletionChunk,
    CompletionParams,
    CreateEmbeddingResponse,
    DetokenizeResponse,
    Model,
    StreamOptionsParam,
    TokenizeResponse,
)

Prompt = str | list[str] | list[int] | list[list[int]]


class ChatCompletions(Resource[M]):
    @endpoint
    def create(
        self, *, model: str, messages: Sequence[ChatMessageParam], **params: Unpack[ChatParams]
    ) -> Call[ChatCompletion]:
        """A chat completion, `volt` block included.

        Usage: `client.chat.completions.create(model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Hi"}], max_tokens=16)`.
        """
        return Call(
            "POST",
            "/v1/chat/completions",
            ChatCompletion,
            json=body(model=model, messages=list(messages), **params),
        )

    @streaming
    def stream(
        self,
        *,
        model: str,
        messages: Sequence[ChatMessageParam],
        stream_options: StreamOptionsParam | None = None,
        **params: Unpack[ChatParams],
    ) -> Call[ChatCompletionChunk]:
        """The same completion as server-sent chunks; the last carries `volt`.

        Usage: `for chunk in client.chat.completions.stream(model=..., messages=...):
        print(chunk.choices[0].delta.content or "", end="")`.
        """
        return Call(
            "POST",
            "/v1/chat/completions",
            ChatCompletionChunk,
            json=body(
                model=model,
                messages=list(messages),
                stream=True,
                stream_options=stream_options,
                **params,
            ),
        )


class Chat(Resource[M]):
    def __init__(self, client: Executor[M]) -> None:
        super().__init__(client)
        self.completions: ChatCompletions[M] = ChatCompletions(client)


class Completions(Resource[M]):
    @endpoint
    def create(
        self, *, model: str, prompt: Prompt, **params: Unpack[CompletionParams]
    ) -> Call[Completion]:
        """A legacy text completion. Usage: `client.completions.create(model=..., prompt="Hi")`."""
        return Call(
            "POST", "/v1/completions", Completion, json=body(model=model, prompt=prompt, **params)
        )

    @streaming
    def stream(
        self,
        *,
        model: str,
        prompt: Prompt,
        stream_options: StreamOptionsParam | None = None,
        **params: Unpack[CompletionParams],
    ) -> Call[CompletionChunk]:
        """Usage: `for chunk in client.completions.stream(model=..., prompt="Hi"): ...`."""
        return Call(
            "POST",
            "/v1/completions",
            CompletionChunk,
            json=body(
                model=model, prompt=prompt, stream=True, stream_options=stream_options, **params
            ),
        )


class Embeddings(Resource[M]):
    @endpoint
    def create(
        self,
        *,
        model: str,
        input: Prompt,
        dimensions: int | None = None,
        encoding_format: Literal["float", "base64"] | None = None,
        user: str | None = None,
    ) -> Call[CreateEmbeddingResponse]:
        """Usage: `client.embeddings.create(model="all-minilm-l6-v2", input=["a", "b"])`."""
        return Call(
            "POST",
            "/v1/embeddings",
            CreateEmbeddingResponse,
            json=body(
                model=model,
                input=input,
                dimensions=dimensions,
                encoding_format=encoding_format,
                user=user,
            ),
        )


class Models(Resource[M]):
    @endpoint
    def list(self) -> Call[ListObject[Model]]:
        """The models the caller's org may use. Usage: `client.models.list().data`."""
        return Call("GET", "/v1/models", ListObject[Model])

    @endpoint
    def retrieve(self, model_id: str) -> Call[Model]:
        """Usage: `client.models.retrieve("smollm2-135m-instruct")`."""
        return Call("GET", f"/v1/models/{path_id(model_id, slashes=True)}", Model)


class Tokenizer(Resource[M]):
    """vLLM's `/tokenize` and `/detokenize`, with the model found as chat finds it."""

    @endpoint
    def tokenize(
        self,
        *,
        model: str,
        prompt: str | None = None,
        messages: Sequence[ChatMessageParam] | None = None,
        tools: Sequence[dict[str, object]] | None = None,
        add_generation_prompt: bool | None = None,
        add_special_tokens: bool | None = None,
        return_token_strs: bool | None = None,
    ) -> Call[TokenizeResponse]:
        """A prompt's token ids, or a conversation's as chat completions renders it (its
        `count` is that request's `prompt_tokens`).

        Usage: `client.tokenizer.tokenize(model=..., prompt="Hi").tokens`.
        """
        return Call(
            "POST",
            "/tokenize",
            TokenizeResponse,
            json=body(
                model=model,
                prompt=prompt,
                messages=list(messages) if messages is not None else None,
                tools=list(tools) if tools is not None else None,
                add_generation_prompt=add_generation_prompt,
                add_special_tokens=add_special_tokens,
                return_token_strs=return_token_strs,
            ),
        )

    @endpoint
    def detokenize(self, *, model: str, tokens: Sequence[int]) -> Call[DetokenizeResponse]:
        """Usage: `client.tokenizer.detokenize(model=..., tokens=[504, 3458]).prompt`."""
        return Call(
            "POST", "/detokenize", DetokenizeResponse, json=body(model=model, tokens=list(tokens))
        )
