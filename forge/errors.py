"""Errors a user can act on.

The engine raises a :class:`ForgeError` (or a child) carrying a plain-language message and
a hint. The page and the CLI show ``str(error)``; logs keep the traceback.
"""

from __future__ import annotations


class ForgeError(Exception):
    """An error with a message a user can act on, and an optional hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nHow to fix: {self.hint}" if self.hint else self.message


class ConfigError(ForgeError):
    """A bad setting: the message names the field and the allowed values."""


class DataError(ForgeError):
    """A dataset that cannot be used. ``problems`` lists ``DataProblem`` rows (file, line, text)."""

    def __init__(self, message: str, hint: str | None = None, problems: list | None = None):
        super().__init__(message, hint)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  - {p}" for p in self.problems]
        if self.hint:
            lines.append(f"How to fix: {self.hint}")
        return "\n".join(lines)


class ModelNotFoundError(ForgeError):
    """A model reference that resolves to nothing."""


class OfflineError(ForgeError):
    """Something needs the Hugging Face Hub and this machine cannot reach it."""


class SandboxError(ForgeError):
    """A path from the page or the API that points outside the allowed folders."""


class HubError(ForgeError):
    """A Hub action that failed (bad token, missing repository, network)."""


class UnavailableError(ForgeError):
    """A provider or strategy that this machine cannot run (missing package, no GPU)."""


class BusyError(ForgeError):
    """A resource in use (a model a run or the Playground is using)."""
