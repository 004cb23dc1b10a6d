"""volt-spark: the OpenAI-compatible data plane on vLLM (issue #3 builds it)."""
