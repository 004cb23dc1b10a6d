"""Every default the SDK and CLI share, retries included, in one place."""

from __future__ import annotations

from typing import Final, Literal

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
# The public OAuth client id of the `volt` CLI (openapi.yaml: DeviceAuthorizationRequest).
CLI_CLIENT_ID = "volt-cli"
DEVICE_CODE_GRANT: Final[Literal["urn:ietf:params:oauth:grant-type:device_code"]] = (
    "urn:ietf:params:oauth:grant-type:device_code"
)

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0

# Retries: 429 (rate limit, an org's in-flight share), 503 (engine overloaded or a dependency
# down), gateway errors from an ingress, and connection errors or timeouts. Other statuses are
# answers, not accidents, and are raised at once.
DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
# Up to this fraction of an exponential delay is taken off at random, so that clients refused
# together do not come back together.
RETRY_JITTER = 0.25
# A server asking for a longer wait than this is not waited on: the error is raised instead.
MAX_RETRY_AFTER_S = 60.0

# An access token this close to its expiry is refreshed before it is used.
TOKEN_REFRESH_SKEW_S = 30.0
# How often a call waiting on another call's token refresh looks again.
REFRESH_WAIT_S = 0.02

# `wait(...)` on a lease, a rack or a fine-tuning job (and the CLI's `--wait`): how often it
# polls, and how long it waits by default (training takes longer than provisioning).
DEFAULT_POLL_INTERVAL_S = 2.0
DEFAULT_WAIT_TIMEOUT_S = 900.0
DEFAULT_JOB_WAIT_TIMEOUT_S = 3600.0
