"""Evaluation metrics: ROUGE, SQuAD exact match and F1, perplexity.

Pure functions with no UI dependencies. ``rouge`` imports the ``rouge-score`` package
only when it is called. Every score is returned in the range 0..1 (not percent).
"""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Sequence

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def _as_list(refs) -> list[str]:
    """One example's references as a list of strings.

    Accepts a single string, a list of strings, or a SQuAD-style answers dict
    (``{"text": [...], "answer_start": [...]}``).
    """
    if isinstance(refs, str):
        return [refs]
    if isinstance(refs, dict):
        refs = refs.get("text", [])
    return [str(r) for r in refs]


def rouge(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> dict:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures, averaged over examples (each in 0..1).

    ``references`` holds one reference string per prediction, or a list of reference
    strings per prediction; with several references the best score of each ROUGE type
    is kept for that example. Uses ``rouge_score`` with the Porter stemmer.
    """
    if len(predictions) != len(references):
        raise ValueError(
            f"rouge: got {len(predictions)} predictions but {len(references)} references; "
            "they must be the same length"
        )
    if not predictions:
        return {key: 0.0 for key in ROUGE_TYPES}

    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, refs in zip(predictions, references):
        ref_list = _as_list(refs) or [""]
        best = dict.fromkeys(ROUGE_TYPES, 0.0)
        for ref in ref_list:
            scores = scorer.score(ref, prediction or "")
            for key in ROUGE_TYPES:
                best[key] = max(best[key], scores[key].fmeasure)
        for key in ROUGE_TYPES:
            totals[key] += best[key]
    return {key: totals[key] / len(predictions) for key in ROUGE_TYPES}


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation: lower-case, drop punctuation and articles, collapse spaces."""
    s = (s or "").lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split()


def _exact_one(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def _f1_one(prediction: str, reference: str) -> float:
    pred_toks = _tokens(prediction)
    ref_toks = _tokens(reference)
    if not pred_toks or not ref_toks:
        # SQuAD v2: both empty (no answer) is a match; only one empty is a miss.
        return float(pred_toks == ref_toks)
    common = collections.Counter(pred_toks) & collections.Counter(ref_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_toks)
    recall = num_same / len(ref_toks)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, references) -> float:
    """1.0 if the normalised prediction equals any normalised reference, else 0.0.

    ``references`` is a string, a list of strings or a SQuAD answers dict. No references
    at all counts as the single empty answer (SQuAD v2 "no answer").
    """
    refs = _as_list(references) or [""]
    return max(_exact_one(prediction or "", ref) for ref in refs)


def f1(prediction: str, references) -> float:
    """SQuAD token-level F1, the maximum over every reference answer (0..1)."""
    refs = _as_list(references) or [""]
    return max(_f1_one(prediction or "", ref) for ref in refs)


def squad(predictions: Sequence[str], references_list: Sequence) -> dict:
    """Mean exact match and F1 over examples, each in 0..1.

    ``references_list`` has one entry per prediction: a string, a list of accepted
    answers, or a SQuAD answers dict.
    """
    if len(predictions) != len(references_list):
        raise ValueError(
            f"squad: got {len(predictions)} predictions but {len(references_list)} references; "
            "they must be the same length"
        )
    if not predictions:
        return {"exact_match": 0.0, "f1": 0.0}
    n = len(predictions)
    em = sum(exact_match(p, r) for p, r in zip(predictions, references_list)) / n
    f = sum(f1(p, r) for p, r in zip(predictions, references_list)) / n
    return {"exact_match": em, "f1": f}


def perplexity(loss: float) -> float:
    """exp(loss); ``float("inf")`` when that overflows."""
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")
