"""Failure injection: added latency, a requests-per-minute quota and prompt trigger words.

Everything is configured once at start from ``LOCALBEDROCK_*`` environment variables (see
``Settings.from_env`` and the package docstring) so one running endpoint can exercise every
error path a Bedrock client must handle, chosen per request by a word in the prompt.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from localbedrock.models.base import BedrockError

THROTTLE_MESSAGE = "Too many requests, please wait before trying again."
_FLAKY = re.compile(r"trigger-flaky-(\d+)")
_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    """Fault configuration; defaults are what an unconfigured endpoint uses."""

    latency_ms: int = 0
    rpm: int = 0  # requests per minute across all models; 0 = unlimited
    filter_word: str = "forbidden-content"
    throttle_word: str = "trigger-throttle"
    not_ready_word: str = "trigger-not-ready"
    timeout_word: str = "trigger-timeout"
    error_word: str = "trigger-error"
    unavailable_word: str = "trigger-unavailable"
    slow_word: str = "trigger-slow"
    slow_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read ``LOCALBEDROCK_*`` variables; unset or empty ones keep their defaults."""

        def value(name: str, default: str) -> str:
            return env.get(f"LOCALBEDROCK_{name}") or default

        defaults = cls()
        return cls(
            latency_ms=int(value("LATENCY_MS", str(defaults.latency_ms))),
            rpm=int(value("RPM", str(defaults.rpm))),
            filter_word=value("FILTER_WORD", defaults.filter_word),
            throttle_word=value("THROTTLE_WORD", defaults.throttle_word),
            not_ready_word=value("NOT_READY_WORD", defaults.not_ready_word),
            timeout_word=value("TIMEOUT_WORD", defaults.timeout_word),
            error_word=value("ERROR_WORD", defaults.error_word),
            unavailable_word=value("UNAVAILABLE_WORD", defaults.unavailable_word),
            slow_word=value("SLOW_WORD", defaults.slow_word),
            slow_seconds=float(value("SLOW_SECONDS", str(defaults.slow_seconds))),
        )


class Faults:
    """Applies ``Settings`` to calls; thread-safe, state is in memory only."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
        self._flaky_calls: dict[str, int] = {}
        self._word_errors = (
            (settings.throttle_word, "ThrottlingException", THROTTLE_MESSAGE),
            (
                settings.not_ready_word,
                "ModelNotReadyException",
                "Model is not ready to serve inference requests. Try again later.",
            ),
            (
                settings.timeout_word,
                "ModelTimeoutException",
                "Model has timed out in processing the request. Try your request again.",
            ),
            (
                settings.error_word,
                "InternalServerException",
                "The server encountered an internal error while processing the request.",
            ),
            (
                settings.unavailable_word,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
            ),
        )

    def before_call(self) -> None:
        """Added latency, then the quota; runs for every invoke call before validation."""
        if self.settings.latency_ms > 0:
            time.sleep(self.settings.latency_ms / 1000)
        if self.settings.rpm <= 0:
            return
        now = time.monotonic()
        with self._lock:
            while self._admitted and now - self._admitted[0] >= _WINDOW_SECONDS:
                self._admitted.popleft()
            if len(self._admitted) >= self.settings.rpm:
                raise BedrockError("ThrottlingException", THROTTLE_MESSAGE)
            self._admitted.append(now)

    def for_prompt(self, prompt: str, requested_seed: int | None) -> None:
        """Raise the error a trigger word asks for, or sleep for the slow word."""
        for word, name, message in self._word_errors:
            if word in prompt:
                raise BedrockError(name, message)
        flaky = _FLAKY.search(prompt)
        if flaky:
            key = f"{requested_seed}\x00{prompt}"
            with self._lock:
                calls = self._flaky_calls.get(key, 0)
                self._flaky_calls[key] = calls + 1
            if calls < int(flaky.group(1)):
                raise BedrockError("ThrottlingException", THROTTLE_MESSAGE)
        if self.settings.slow_word in prompt:
            time.sleep(self.settings.slow_seconds)

    def is_filtered(self, prompt: str) -> bool:
        """Whether the content filter flags ``prompt``."""
        return self.settings.filter_word in prompt
