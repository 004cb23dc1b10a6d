"""The SDK's version, as `volt.__version__`, in its `User-Agent` and in `volt --version`; kept
equal to pyproject.toml's `version`."""

__version__ = "0.1.0"
