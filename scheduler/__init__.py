"""Pure policy, no I/O: admission, rate limits, fair queuing, GPU placement."""
