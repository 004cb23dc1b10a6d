"""The Responses API (`POST /v1/responses`), stateless: request models (`protocol`), the chat
view and output items (`convert`), stream events (`events`), the handler (`serving`)."""

from inference.responses.serving import routes

__all__ = ["routes"]
