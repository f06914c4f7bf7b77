import math

import pytest

from forge.metrics import exact_match, f1, normalize_answer, perplexity, rouge, squad

# ---------------------------------------------------------------- normalize_answer


def test_normalize_lowercases_and_strips_punctuation():
    assert normalize_answer("Hello, World!") == "hello world"


def test_normalize_removes_articles_as_whole_words_only():
    assert normalize_answer("The Lake Varn") == "lake varn"
    assert normalize_answer("a cat and an owl") == "cat and owl"
    # "the" inside a word is not an article
    assert normalize_answer("Theatre then") == "theatre then"


def test_normalize_collapses_whitespace():
    assert normalize_answer("  lots \t of\n space  ") == "lots of space"


def test_normalize_punctuation_is_removed_not_spaced():
    # SQuAD deletes punctuation characters, so "1,200" becomes "1200"
    assert normalize_answer("1,200 people.") == "1200 people"


# ---------------------------------------------------------------- exact_match


def test_exact_match_ignores_case_punctuation_and_articles():
    assert exact_match("the Lake Varn.", ["Lake Varn"]) == 1.0


def test_exact_match_any_of_several_references():
    assert exact_match("1847", ["in 1847", "1847"]) == 1.0
    assert exact_match("in 1847", ["in 1847", "1847"]) == 1.0
    assert exact_match("1848", ["in 1847", "1847"]) == 0.0


def test_exact_match_accepts_string_and_squad_dict():
    assert exact_match("Mara Quell", "mara quell") == 1.0
    assert exact_match("Mara Quell", {"text": ["Tobin Ash", "Mara Quell"], "answer_start": [0, 10]}) == 1.0


def test_exact_match_empty_prediction():
    assert exact_match("", ["Lake Varn"]) == 0.0
    assert exact_match("", [""]) == 1.0
    assert exact_match("", []) == 1.0  # no answers = the "no answer" case
    assert exact_match("Lake Varn", []) == 0.0


# ---------------------------------------------------------------- f1


def test_f1_partial_overlap_hand_computed():
    # pred tokens: [blue, whale]; ref tokens: [largest, blue, whale, ever]
    # common = 2, precision = 2/2, recall = 2/4, F1 = 2*1*0.5/1.5 = 2/3
    assert f1("the blue whale", "largest blue whale ever") == pytest.approx(2 / 3)


def test_f1_takes_max_over_references():
    # vs "red fox": common 1 -> p=1/2, r=1/2, f=0.5; vs "quick red fox": common 2 -> p=1, r=2/3, f=0.8
    assert f1("red fox", ["brown dog", "quick red fox"]) == pytest.approx(0.8)
    assert f1("red fox", ["brown dog"]) == 0.0


def test_f1_counts_repeated_tokens_by_multiplicity():
    # pred [go, go, go], ref [go]: common = min(3,1) = 1, p=1/3, r=1, f=0.5
    assert f1("go go go", "go") == pytest.approx(0.5)


def test_f1_empty_prediction_and_reference_rules():
    assert f1("", [""]) == 1.0
    assert f1("", ["Lake Varn"]) == 0.0
    assert f1("Lake Varn", [""]) == 0.0
    # "The" normalises to nothing, so it counts as an empty answer
    assert f1("The", [""]) == 1.0
    assert f1("The", ["Lake Varn"]) == 0.0


def test_f1_punctuation_and_articles_do_not_count():
    assert f1("The Lake Varn!", ["lake varn"]) == 1.0


# ---------------------------------------------------------------- squad


def test_squad_means_in_zero_to_one():
    preds = ["Lake Varn", "red fox", ""]
    refs = [["the Lake Varn", "Lake Varn"], ["quick red fox"], ["Mara Quell"]]
    out = squad(preds, refs)
    assert set(out) == {"exact_match", "f1"}
    assert out["exact_match"] == pytest.approx(1 / 3)
    assert out["f1"] == pytest.approx((1.0 + 0.8 + 0.0) / 3)
    assert 0.0 <= out["exact_match"] <= 1.0 and 0.0 <= out["f1"] <= 1.0


def test_squad_different_predictions_score_differently():
    refs = [["Lake Varn"], ["1847", "in 1847"]]
    good = squad(["Lake Varn", "1847"], refs)
    bad = squad(["Mount Orr", "1902"], refs)
    assert good == {"exact_match": 1.0, "f1": 1.0}
    assert bad == {"exact_match": 0.0, "f1": 0.0}


def test_squad_length_mismatch_raises():
    with pytest.raises(ValueError):
        squad(["a"], [["a"], ["b"]])


# ---------------------------------------------------------------- rouge


def test_rouge_hand_computed_unigram_bigram_lcs():
    # pred [the, cat, sat] vs ref [the, cat, ran]
    # rouge1: 2 shared unigrams -> p = r = 2/3 -> F = 2/3
    # rouge2: bigrams {the cat, cat sat} vs {the cat, cat ran}: 1 shared -> p = r = 1/2 -> F = 1/2
    # rougeL: LCS "the cat" = 2 -> p = r = 2/3 -> F = 2/3
    out = rouge(["the cat sat"], ["the cat ran"])
    assert out["rouge1"] == pytest.approx(2 / 3)
    assert out["rouge2"] == pytest.approx(1 / 2)
    assert out["rougeL"] == pytest.approx(2 / 3)


def test_rouge_uneven_lengths_hand_computed():
    # pred [a, b] vs ref [a, b, c, d]: rouge1 p=1, r=1/2, F=2/3; rouge2 1 shared of 1 and 3 -> F=1/2
    out = rouge(["alpha beta"], ["alpha beta gamma delta"])
    assert out["rouge1"] == pytest.approx(2 / 3)
    assert out["rouge2"] == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))
    assert out["rougeL"] == pytest.approx(2 / 3)


def test_rouge_uses_stemmer():
    # "cats" -> "cat", "running"/"runs" -> "run"
    out = rouge(["cats running"], ["cat runs"])
    assert out["rouge1"] == pytest.approx(1.0)


def test_rouge_best_of_several_references():
    out = rouge(["the cat sat"], [["a dog barked", "the cat sat"]])
    assert out == {"rouge1": pytest.approx(1.0), "rouge2": pytest.approx(1.0), "rougeL": pytest.approx(1.0)}


def test_rouge_averages_over_examples():
    # example 1 scores 1.0 everywhere, example 2 shares nothing -> mean 0.5
    out = rouge(["the cat sat", "blue sky"], ["the cat sat", "green grass"])
    assert out["rouge1"] == pytest.approx(0.5)
    assert out["rougeL"] == pytest.approx(0.5)


def test_rouge_different_predictions_give_different_scores():
    ref = ["the council approved a budget of 4 million pounds for roads"]
    close = rouge(["the council approved a 4 million pound budget for roads"], ref)
    far = rouge(["a bakery in town won a prize"], ref)
    assert close["rouge1"] > far["rouge1"]
    assert close["rougeL"] > far["rougeL"]
    assert all(0.0 <= v <= 1.0 for v in (*close.values(), *far.values()))


def test_rouge_empty_prediction_scores_zero():
    out = rouge([""], ["the cat sat"])
    assert out == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_rouge_length_mismatch_raises():
    with pytest.raises(ValueError):
        rouge(["a", "b"], ["a"])


# ---------------------------------------------------------------- perplexity


def test_perplexity_is_exp_of_loss():
    assert perplexity(0.0) == 1.0
    assert perplexity(2.0) == pytest.approx(math.e**2)
    assert perplexity(math.log(12.5)) == pytest.approx(12.5)


def test_perplexity_overflow_is_inf():
    assert perplexity(1e6) == float("inf")


def test_module_imports_nothing_heavy_at_import_time():
    import subprocess
    import sys

    code = (
        "import sys, forge.metrics; "
        "bad = [m for m in ('gradio', 'rouge_score', 'torch', 'transformers') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
