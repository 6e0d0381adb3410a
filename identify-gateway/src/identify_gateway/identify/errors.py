"""What the pipeline refuses or cannot do, as typed errors the callers (HTTP, worker) translate."""

from __future__ import annotations

SERVICE_UNAVAILABLE = "Plant.id service is temporarily unavailable. Please try again in a few moments."  # the seed's sentence


class UploadRejected(Exception):
    """The upload is not an image the gateway accepts; nothing was sent to any engine.

    Attributes:
        status: 400 (empty, malformed form), 413 (too many bytes or pixels), 415 (not JPEG, PNG,
            WebP or HEIC), 422 (unreadable, truncated, missing field, bad parameter).
        code: the envelope's machine code.
        detail: a sentence for the client.
    """

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class EnginesUnavailable(Exception):
    """No engine could answer (breakers open, out of quota, failing): answer 503 with `Retry-After`."""

    def __init__(self, retry_after_s: int, statuses: dict[str, str]) -> None:
        super().__init__(SERVICE_UNAVAILABLE)
        self.retry_after_s = max(1, retry_after_s)
        self.statuses = statuses
