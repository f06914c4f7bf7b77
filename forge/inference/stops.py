"""OpenAI's ``stop``: streamed text cut before the first stop string."""

from __future__ import annotations

from typing import Iterator


class StopText:
    """Cuts streamed text before the first of ``stops``. Text that could be the start of a stop string
    is held back until the next piece tells; ``hit`` is the stop string found."""

    def __init__(self, stops: list[str] | str | None = None):
        stops = [stops] if isinstance(stops, str) else list(stops or [])
        self.stops = [s for s in stops if s]
        self.hit: str | None = None

    def cut(self, pieces: Iterator[str]) -> Iterator[str]:
        """``pieces`` up to (not including) the first stop string; then ``pieces`` is closed, which
        ends its generation."""
        buf = ""
        try:
            for piece in pieces:
                buf += piece
                at = self._find(buf)
                if at is not None:
                    if at:
                        yield buf[:at]
                    return
                ready = len(buf) - self._held(buf)
                if ready:
                    yield buf[:ready]
                    buf = buf[ready:]
            if buf:
                yield buf
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()

    def _find(self, text: str) -> int | None:
        found = [(text.find(s), s) for s in self.stops if s in text]
        if not found:
            return None
        at, self.hit = min(found)
        return at

    def _held(self, text: str) -> int:
        """Length of the longest end of ``text`` that begins a stop string."""
        return max((k for s in self.stops for k in range(1, min(len(s), len(text) + 1))
                    if text.endswith(s[:k])), default=0)
