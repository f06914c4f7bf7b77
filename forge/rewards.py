"""The GRPO reward menu: RunConfig's ``reward_funcs`` items turned into TRL reward functions.

Every reward is one of a fixed set of checks configured by data (a reference column, a
pattern, a target length, a format name); nothing a user types is executed. Each function
follows TRL's reward-function signature (``completions`` plus the dataset's columns as keyword
arguments) and is a small class rather than a closure, so it stays picklable; its
``__name__`` is what TRL logs the reward under (``rewards/<name>/mean``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .config import ExactMatchReward, FormatReward, LengthReward, NoRepetitionReward, RegexReward, RewardSpec, RunConfig

REGEX_TIMEOUT_S = 0.05  # per completion: a pathological pattern scores 0 instead of hanging the run
_NUMBER = re.compile(r"[-+]?(\d+([.,]\d+)*|\.\d+)([eE][-+]?\d+)?")
_SPACES = re.compile(r"\s+")


def completion_text(completion: Any) -> str:
    """A completion as text: TRL passes a string, or a list of messages for conversational data."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def normalize(text: str, ignore_case: bool = True) -> str:
    text = _SPACES.sub(" ", text).strip().rstrip(".!").strip()
    return text.casefold() if ignore_case else text


class _RewardFunc:
    __name__ = "reward"

    def __call__(self, completions: list, **kwargs) -> list[float | None]:
        return [self.score(completion_text(c), i, kwargs) for i, c in enumerate(completions)]

    def score(self, text: str, index: int, columns: dict[str, list]) -> float | None:
        raise NotImplementedError


class ExactMatch(_RewardFunc):
    def __init__(self, spec: ExactMatchReward):
        self.ignore_case = spec.ignore_case

    def score(self, text, index, columns):
        answers = columns.get("answer")
        if not answers or answers[index] is None:
            return None  # no reference for this row: TRL skips it
        return float(normalize(text, self.ignore_case) == normalize(str(answers[index]), self.ignore_case))


class RegexMatch(_RewardFunc):
    def __init__(self, spec: RegexReward):
        try:
            import regex as re_mod  # supports a timeout per match
        except ImportError:  # pragma: no cover - regex ships with transformers
            re_mod = None
        self.timeout = re_mod is not None
        self.pattern = (re_mod or re).compile(spec.pattern)
        self.full_match = spec.full_match

    def score(self, text, index, columns):
        find = self.pattern.fullmatch if self.full_match else self.pattern.search
        try:
            return float(bool(find(text.strip(), timeout=REGEX_TIMEOUT_S) if self.timeout else find(text.strip())))
        except TimeoutError:
            return 0.0


class TargetLength(_RewardFunc):
    def __init__(self, spec: LengthReward):
        self.target, self.unit = spec.target, spec.unit

    def score(self, text, index, columns):
        n = len(text.split()) if self.unit == "words" else len(text.strip())
        return max(0.0, 1.0 - abs(n - self.target) / self.target)


class FormatCheck(_RewardFunc):
    def __init__(self, spec: FormatReward):
        self.format = spec.format

    def score(self, text, index, columns):
        t = text.strip()
        if self.format == "json":
            try:
                json.loads(t)
                return 1.0
            except ValueError:
                return 0.0
        if self.format == "number":
            return float(bool(_NUMBER.fullmatch(t)))
        if self.format == "single_line":
            return float(bool(t) and "\n" not in t)
        if self.format == "think":
            from trl.rewards import think_format_reward

            return think_format_reward([[{"content": t}]])[0]
        raise ValueError(f"unknown format {self.format}")


class NoRepetition:
    """TRL's repetition penalty on the completion's token ids."""

    __name__ = "no_repetition"

    def __init__(self, spec: NoRepetitionReward):
        from trl.rewards import get_repetition_penalty_reward

        self.penalty = get_repetition_penalty_reward(ngram_size=spec.ngram_size, max_penalty=-1.0)

    def __call__(self, completions: list, completion_ids: list[list[int]] | None = None, **kwargs) -> list[float]:
        return self.penalty(completion_ids or [[] for _ in completions])


_BUILDERS = {"exact_match": ExactMatch, "regex": RegexMatch, "length": TargetLength, "format": FormatCheck,
             "no_repetition": NoRepetition}


def build_rewards(specs: list[RewardSpec]) -> tuple[list[Any], list[float]]:
    """Reward functions and their weights (TRL's ``reward_funcs`` and ``reward_weights``).

    Names are unique so that TRL logs each under its own key: ``exact_match``, ``regex``,
    ``regex_2``, ``format_json``, ...
    """
    funcs, weights, seen = [], [], {}
    for spec in specs:
        fn = _BUILDERS[spec.type](spec)
        base = spec.type if spec.type != "format" else f"format_{spec.format}"
        seen[base] = seen.get(base, 0) + 1
        fn.__name__ = base if seen[base] == 1 else f"{base}_{seen[base]}"
        funcs.append(fn)
        weights.append(spec.weight)
    return funcs, weights


def needs_answers(config: RunConfig) -> bool:
    return any(s.type == "exact_match" for s in config.reward_funcs)
