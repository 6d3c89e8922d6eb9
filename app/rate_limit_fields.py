"""The RateLimit-Policy and RateLimit response fields (draft-ietf-httpapi-ratelimit-headers),
so a client can pace itself before it is refused: the tenant's request limit, on every
answer to an authenticated request, including a 429.

    RateLimit-Policy: "requests";q=60;w=60     60 requests in a 60-second window
    RateLimit: "requests";r=42;t=18            42 left; all 60 again in 18 s
"""

from __future__ import annotations

from flask import Response, g

from imagegen.rate_limits import WINDOW_SECONDS, RateLimitState


def add_rate_limit_fields(response: Response) -> Response:
    """after_request hook for the whole app."""
    state: RateLimitState | None = g.get("rate_limit")
    if state is not None:
        name = f'"{state.policy}"'
        response.headers["RateLimit-Policy"] = f"{name};q={state.limit};w={WINDOW_SECONDS}"
        response.headers["RateLimit"] = f"{name};r={state.remaining};t={state.reset_seconds}"
    return response
