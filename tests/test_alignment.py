"""Alignment strategies (DPO, ORPO, KTO, RLHF, GRPO): real training of the tiny model through the
Job on the CPU, the data formats they read, the GRPO reward menu, and bad data refused early."""

import json
import random
from pathlib import Path

import pytest

from forge.training import get_queue, read_all


def run(cfg):
    q = get_queue()
    rec = q.submit(cfg)
    return q.wait(rec["id"], timeout=900)


def metric_values(rec, key, phase=None):
    return [e[key] for e in read_all(rec["events_path"])
            if e["kind"] == "metrics" and key in e and (phase is None or e.get("phase") == phase)]


def logs(rec):
    return [e["message"] for e in read_all(rec["events_path"]) if e["kind"] == "log"]


def write_jsonl(path: Path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


TOPICS = ["taxes", "cooking", "a flat tyre", "my homework", "gardening", "a cover letter", "sleep", "running",
          "a budget", "chess", "painting", "a birthday party", "learning French", "my printer", "a job interview",
          "moving house", "a sore back", "baking bread", "a road trip", "knitting"]
GOOD = ["Of course! I would be glad to help with {t}. Here is what I suggest.",
        "Certainly, happy to help with {t}. Let us look at it together."]
BAD = ["No. Figure out {t} yourself.", "Not my problem, stop asking about {t}."]


def synthetic_pairs(n, seed=0):
    """Polite versus rude answers: a preference a small model can separate."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        rows.append({"prompt": f"Can you help me with {t}?", "chosen": rnd.choice(GOOD).format(t=t),
                     "rejected": rnd.choice(BAD).format(t=t)})
    return rows


def load_adapter(tiny_model, out):
    """The saved adapter loads with transformers + PEFT, and the Playground answers with it."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forge import inference
    from forge.runs import get_store

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out)
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]

    record = next(m for m in get_store().list_models() if m["path"] == str(out))
    assert record["kind"] == "adapter"
    answer = inference.generate_text(record["id"], [{"role": "user", "content": "Hi"}],
                                     {"max_new_tokens": 3, "temperature": 0})
    assert isinstance(answer, str)
    inference.unload(record["id"])
    return model


# ---- data formats -------------------------------------------------------------------------------

def test_formats_follow_trl_conversational_shapes():
    from forge import data

    pref = [{"prompt": "Say hi", "chosen": "Hello!", "rejected": "No."},
            {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
             "chosen": [{"role": "assistant", "content": "4"}], "rejected": "5"}]
    ds = data.preference_dataset(pref)
    assert ds[0] == {"prompt": [{"role": "user", "content": "Say hi"}],
                     "chosen": [{"role": "assistant", "content": "Hello!"}],
                     "rejected": [{"role": "assistant", "content": "No."}]}
    assert ds[1]["prompt"][0]["role"] == "system" and ds[1]["rejected"] == [{"role": "assistant", "content": "5"}]

    unpaired = data.unpaired_dataset(pref, "preference")
    assert len(unpaired) == 4 and sorted(unpaired["label"]) == [False, False, True, True]
    assert {c[0]["content"] for c, label in zip(unpaired["completion"], unpaired["label"]) if label} == {"Hello!", "4"}

    fb = data.unpaired_dataset([{"prompt": "Hi", "completion": "Hello", "label": "false"}], "feedback")
    assert fb[0] == {"prompt": [{"role": "user", "content": "Hi"}],
                     "completion": [{"role": "assistant", "content": "Hello"}], "label": False}

    prompts = data.prompt_dataset([{"prompt": "1+1?", "answer": 2}, {"prompt": "1+1?", "answer": 2},
                                   {"prompt": "Name a colour."}], "prompt")
    assert prompts["prompt"] == [[{"role": "user", "content": "1+1?"}], [{"role": "user", "content": "Name a colour."}]]
    assert prompts["answer"] == ["2", None]
    assert "answer" not in data.prompt_dataset(pref, "preference").column_names


def test_long_prompts_keep_their_end(embedded_path):
    from transformers import AutoTokenizer

    from forge.data import clip_prompts
    from forge.data.formats import prompt_tokens

    tok = AutoTokenizer.from_pretrained(embedded_path)
    rows = [{"prompt": "filler " * 300 + "What is the capital of France?", "chosen": "Paris", "rejected": "Rome"},
            {"prompt": "Short?", "chosen": "Yes", "rejected": "No"}]
    out, clipped, dropped = clip_prompts(rows, "preference", tok, 64)
    assert (clipped, dropped) == (1, 0) and out[1] is rows[1]
    assert out[0]["prompt"][-1]["content"].endswith("What is the capital of France?")
    assert prompt_tokens(out[0]["prompt"], tok) <= 64
    _, _, dropped = clip_prompts(rows, "preference", tok, 8)  # the chat template alone is longer
    assert dropped == 2


# ---- the GRPO reward menu -----------------------------------------------------------------------

def test_reward_menu_scores_and_names():
    from forge.config import parse_config
    from forge.rewards import build_rewards

    cfg = parse_config({"strategy": "grpo", "reward_funcs": [
        {"type": "exact_match"}, {"type": "regex", "pattern": r"^\d+$", "weight": 0.5},
        {"type": "regex", "pattern": "yes", "full_match": True}, {"type": "length", "target": 4},
        {"type": "format", "format": "json"}, {"type": "format", "format": "number"},
        {"type": "no_repetition", "ngram_size": 2, "weight": 2}]})
    funcs, weights = build_rewards(cfg.reward_funcs)
    assert [f.__name__ for f in funcs] == ["exact_match", "regex", "regex_2", "length", "format_json", "format_number",
                                           "no_repetition"]
    assert weights == [1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0]
    comps = [[{"role": "assistant", "content": " 42. "}], [{"role": "assistant", "content": "Yes"}],
             [{"role": "assistant", "content": "one two three four"}]]
    exact, regex, regex2, length, js, num, rep = funcs
    assert exact(comps, answer=["42", "no", None]) == [1.0, 0.0, None]  # no reference: skipped by TRL
    assert regex(comps) == [0.0, 0.0, 0.0] and regex(["42"]) == [1.0]
    assert regex2(["yes", "yes please"]) == [1.0, 0.0]
    assert length(comps) == [0.25, 0.25, 1.0]
    assert js(['{"a": 1}', "{a: 1}"]) == [1.0, 0.0] and num(["-3.5", "3 apples"]) == [1.0, 0.0]
    assert rep(["x", "y"], completion_ids=[[1, 2, 3], [5, 5, 5, 5]]) == [0.0, pytest.approx(-2 / 3)]


def test_reward_menu_refuses_code_and_bad_patterns():
    from forge.config import parse_config
    from forge.errors import ConfigError

    for bad, words in [
        ({"type": "python", "code": "import os"}, ["reward_funcs", "exact_match, regex, length, format, no_repetition"]),
        ({"type": "regex", "pattern": "(unclosed"}, ["reward_funcs[0] (regex).pattern", "not a valid regular expression"]),
        ({"type": "length", "target": 0}, ["reward_funcs[0] (length).target", ">= 1 and <= 10000"]),
        ({"type": "exact_match", "weight": 99}, ["reward_funcs[0] (exact_match).weight", "<= 10.0"]),
        ({"type": "format", "format": "xml"}, ["reward_funcs[0] (format).format", "json, number, single_line, think"]),
        ({"type": "regex", "pattern": "a", "eval": "1"}, ["reward_funcs[0] (regex).eval", "unknown setting"]),
    ]:
        with pytest.raises(ConfigError) as e:
            parse_config({"strategy": "grpo", "reward_funcs": [bad]})
        assert all(w in str(e.value) for w in words), str(e.value)
    with pytest.raises(ConfigError, match=r"loss_type: 'nope' is not a dpo loss \(one of: sigmoid, ipo, hinge"):
        parse_config({"strategy": "dpo", "loss_type": "nope"})
    with pytest.raises(ConfigError, match="num_generations.*>= 2 and <= 64"):
        parse_config({"strategy": "grpo", "num_generations": 1})


def test_pathological_regex_times_out_instead_of_hanging():
    import time

    from forge.config import RegexReward
    from forge.rewards import RegexMatch

    fn = RegexMatch(RegexReward(type="regex", pattern=r"^(\w+\s?)*$"))
    t0 = time.time()
    assert fn(["an " * 30 + "!"]) == [0.0]
    assert time.time() - t0 < 2


def test_strategies_declare_tasks_metrics_and_settings():
    from forge.config import RunConfig
    from forge.strategies import STRATEGIES, Strategy

    assert Strategy.settings == ()
    for name in ("dpo", "orpo", "kto", "rlhf", "grpo"):
        s = STRATEGIES[name]()
        assert s.tasks and s.metric_keys and s.settings, name
        assert all(f in RunConfig.model_fields for f in s.settings), name
    assert STRATEGIES["dpo"].metric_keys[:2] == ("rewards/accuracies", "rewards/margins")
    assert "eval_accuracy" in STRATEGIES["rlhf"].metric_keys and "reward" in STRATEGIES["rlhf"].metric_keys
    assert STRATEGIES["kto"].tasks == ("feedback", "preference")


# ---- bad data: refused with line numbers, before any model loads ---------------------------------

@pytest.mark.parametrize("strategy,rows,lines,words", [
    ("dpo", [{"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "a", "chosen": "same", "rejected": "same"},
             {"chosen": "b", "rejected": "c"}], [2, 3], ["identical", "missing field 'prompt'"]),
    ("kto", [{"prompt": "a", "completion": "b", "label": True}, {"prompt": "a", "completion": "b", "label": 1},
             {"prompt": "a", "completion": "b", "label": "maybe"}], [2, 3], ["true or false", "true or false"]),
    ("grpo", [{"prompt": "1+1?", "answer": "2"}, {"answer": "3"}], [2], ["missing field 'prompt'"]),
])
def test_bad_data_refused_with_line_numbers(tiny_config, tmp_path, strategy, rows, lines, words):
    task = {"dpo": "preference", "kto": "feedback", "grpo": "prompt"}[strategy]
    good = rows[0]
    path = write_jsonl(tmp_path / "bad.jsonl", rows + [good] * 4)
    rec = run(tiny_config(strategy=strategy, dataset=path, task=task))
    assert rec["status"] == "failed"
    for line, word in zip(lines, words):
        assert f"bad.jsonl, line {line}: " in rec["error"] and word in rec["error"], rec["error"]
    assert not any(m.startswith("Loading ") for m in logs(rec)), "no model is loaded for bad data"


def test_strategy_refuses_data_of_another_task(tiny_config):
    rec = run(tiny_config(strategy="dpo", dataset="sample:math_prompts"))
    assert rec["status"] == "failed" and "dpo trains on preference data" in rec["error"]


# ---- each strategy trains for real ---------------------------------------------------------------

FAST = dict(max_steps=3, per_device_train_batch_size=4, max_samples=24, eval_split=0.2, max_seq_length=64)


def test_dpo_uses_the_adapter_disabled_base_as_reference(tiny_model):
    """With LoRA no second model is loaded: TRL's ref_model stays None and the adapter is switched off."""
    from forge import data
    from forge.catalog import resolve
    from forge.config import RunConfig
    from forge.hardware import detect
    from forge.providers.huggingface import HuggingFaceProvider
    from forge.strategies import TrainContext, get_strategy

    cfg = RunConfig(model_name=str(tiny_model), strategy="dpo", max_steps=1, per_device_train_batch_size=2,
                    max_seq_length=64, bf16=False, fp16=False)
    loaded = HuggingFaceProvider().load(resolve(cfg.model_name), cfg)
    rows = data.load("sample:preference_polite", max_samples=8).rows
    ctx = TrainContext(model=loaded.model, tokenizer=loaded.tokenizer, train_rows=rows, eval_rows=[],
                       task="preference", config=cfg, output_dir=Path("/tmp/unused"), callbacks=[],
                       hardware=detect())
    trainer = get_strategy("dpo").build_trainer(ctx)
    from peft import PeftModel

    assert trainer.ref_model is None and isinstance(trainer.model, PeftModel)


def test_dpo_trains_and_loads_back(tiny_config, tiny_model):
    rec = run(tiny_config(strategy="dpo", dataset="sample:preference_polite", beta=0.2, loss_type="ipo",
                          **{**FAST, "max_steps": 2}))
    assert rec["status"] == "completed", rec.get("error")
    for key in ("rewards/accuracies", "rewards/margins", "eval_rewards/accuracies"):
        assert key in rec["metrics"], key
    assert len(metric_values(rec, "rewards/margins", phase="train")) == 2
    load_adapter(tiny_model, rec["output_dir"])
    cfg = (Path(rec["output_dir"]) / "run_config.yaml").read_text()
    assert "beta: 0.2" in cfg and "loss_type: ipo" in cfg


def test_orpo_trains_and_loads_back(tiny_config, tiny_model):
    rec = run(tiny_config(strategy="orpo", dataset="sample:preference_polite", max_completion_length=48, **FAST))
    assert rec["status"] == "completed", rec.get("error")
    assert {"rewards/accuracies", "rewards/margins", "log_odds_ratio", "nll_loss"} <= set(rec["metrics"])
    load_adapter(tiny_model, rec["output_dir"])


def test_kto_trains_on_feedback(tiny_config, tiny_model):
    rec = run(tiny_config(strategy="kto", dataset="sample:feedback_polite", desirable_weight=1.2, **FAST))
    assert rec["status"] == "completed", rec.get("error")
    assert {"kl", "rewards/margins", "eval_rewards/margins"} <= set(rec["metrics"])
    load_adapter(tiny_model, rec["output_dir"])


def test_kto_splits_preference_pairs(tiny_config):
    rec = run(tiny_config(strategy="kto", dataset="sample:preference_polite", **{**FAST, "max_samples": 12,
                                                                              "max_steps": 2}))
    assert rec["status"] == "completed", rec.get("error")
    # a shuffled split: both good and bad answers appear in the first batches
    assert metric_values(rec, "rewards/chosen") and metric_values(rec, "rewards/rejected")


def test_grpo_trains_with_weighted_rewards(tiny_config, tiny_model):
    rec = run(tiny_config(strategy="grpo", dataset="sample:math_prompts", num_generations=2,
                          max_completion_length=6, reward_funcs=[{"type": "exact_match"},
                                                                 {"type": "length", "target": 3, "weight": 0.5}],
                          **{**FAST, "eval_split": 0.0}))
    assert rec["status"] == "completed", rec.get("error")
    for key in ("reward", "rewards/exact_match/mean", "rewards/length/mean", "completions/mean_length"):
        assert key in rec["metrics"], key
    load_adapter(tiny_model, rec["output_dir"])


def test_rlhf_two_phases_then_reuses_its_reward_model(tiny_config, tiny_model, tmp_path):
    """Stage 1 trains a reward model that separates held-out pairs; stage 2 runs RLOO against it;
    a second run reuses the saved reward model instead of training one."""
    path = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(80))
    rec = run(tiny_config(strategy="rlhf", dataset=path, max_samples=None, eval_split=0.2,
                          per_device_train_batch_size=4, max_seq_length=64, reward_max_steps=30,
                          reward_learning_rate=5e-3, max_steps=2, num_generations=2, max_completion_length=4))
    assert rec["status"] == "completed", rec.get("error")
    phases = [(e["name"], e["index"], e["total"]) for e in read_all(rec["events_path"]) if e["kind"] == "phase"]
    assert phases == [("reward", 0, 2), ("policy", 1, 2)]
    assert metric_values(rec, "accuracy", phase="reward") and metric_values(rec, "eval_accuracy", phase="reward")
    assert metric_values(rec, "reward", phase="policy") and not metric_values(rec, "reward", phase="reward")
    m = rec["metrics"]
    assert m["reward_model/eval_accuracy"] > 0.8, m
    assert "rewards/reward_model/mean" in m and "kl" in m

    reward_dir = Path(rec["run_dir"]) / "reward_model"
    assert (reward_dir / "adapter_config.json").is_file() and (reward_dir / "tokenizer.json").is_file()
    from forge.runs import get_store

    model_rec = next(x for x in get_store().list_models() if x.get("run_id") == rec["id"])
    assert model_rec["artifacts"]["reward_model"] == str(reward_dir)
    load_adapter(tiny_model, rec["output_dir"])

    from forge.config import RunConfig
    from forge.strategies.rlhf import load_reward_model

    rm = load_reward_model(reward_dir, RunConfig())
    assert rm.config.num_labels == 1

    again = run(tiny_config(strategy="rlhf", dataset="sample:math_prompts", reward_model=rec["id"], max_steps=1,
                            per_device_train_batch_size=2, num_generations=2, max_completion_length=4,
                            max_samples=8, eval_split=0.0))
    assert again["status"] == "completed", again.get("error")
    phases = [(e["name"], e["total"]) for e in read_all(again["events_path"]) if e["kind"] == "phase"]
    assert phases == [("policy", 1)]
    assert any("Reusing the reward model" in m for m in logs(again))


def test_a_stop_in_the_reward_stage_ends_the_run_there(tiny_config, tmp_path):
    """RLHF's reward stage runs under the Job's stop handling: a Stop during it ends the run as
    stopped, without a policy stage."""
    import time

    path = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(80))
    q = get_queue()
    rec = q.submit(tiny_config(strategy="rlhf", dataset=path, max_samples=None, eval_split=0.0,
                               per_device_train_batch_size=2, max_seq_length=64, reward_max_steps=400,
                               max_steps=2, num_generations=2, max_completion_length=4))
    deadline = time.time() + 300
    while time.time() < deadline and not any(e.get("phase") == "reward" and e["kind"] == "metrics"
                                             for e in read_all(rec["events_path"])):
        time.sleep(0.2)
    assert q.stop(rec["id"]) == "stopping"
    done = q.wait(rec["id"], timeout=300)
    assert done["status"] == "stopped", done.get("error")
    events = read_all(done["events_path"])
    assert [e["name"] for e in events if e["kind"] == "phase"] == ["reward"]
    assert max(e.get("step", 0) for e in events if e["kind"] == "metrics") < 400
    assert any("stopped in its reward stage" in (e.get("message") or "") for e in events)


def test_rlhf_on_prompts_needs_a_reward_model(tiny_config):
    rec = run(tiny_config(strategy="rlhf", dataset="sample:math_prompts", task="prompt"))
    assert rec["status"] == "failed" and "reward_model" in rec["error"]
    assert not any(m.startswith("Loading ") for m in logs(rec))
    rec = run(tiny_config(strategy="rlhf", dataset="sample:preference_polite", reward_model="no-such-run"))
    assert rec["status"] == "failed" and "reward_model: 'no-such-run'" in rec["error"]


# ---- the strategies learn ------------------------------------------------------------------------

def test_dpo_reward_accuracy_rises_on_separable_pairs(tiny_config, tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(48))
    rec = run(tiny_config(strategy="dpo", dataset=path, max_samples=None, eval_split=0.0, max_steps=12,
                          per_device_train_batch_size=4, max_seq_length=64, learning_rate=5e-3))
    assert rec["status"] == "completed", rec.get("error")
    acc = metric_values(rec, "rewards/accuracies")
    margins = metric_values(rec, "rewards/margins")
    assert sum(acc[-3:]) / 3 > 0.8, acc
    assert acc[0] < 0.8 and margins[-1] > margins[0], (acc, margins)


@pytest.mark.slow
def test_grpo_exact_match_raises_mean_reward(tiny_config, tmp_path):
    """A short SFT first teaches the tiny model the words of the task (it answers 'yes', 'no' or
    stops, at random); GRPO with an exact-match reward on 'yes' then makes 'yes' its answer."""
    rnd = random.Random(0)
    qs = [f"Question {i}: answer yes or no." for i in range(40)]
    sft = write_jsonl(tmp_path / "yesno.jsonl", [{"input": q, "output": rnd.choice(["yes", "no"])} for q in qs])
    warm = run(tiny_config(strategy="sft", dataset=sft, max_samples=None, eval_split=0.0, lora_r=0, max_steps=15,
                           per_device_train_batch_size=8, learning_rate=1e-2, save_steps=100))
    assert warm["status"] == "completed", warm.get("error")
    prompts = write_jsonl(tmp_path / "yes.jsonl", [{"prompt": q, "answer": "yes"} for q in qs])
    rec = run(tiny_config(model_name=warm["output_dir"], strategy="grpo", dataset=prompts, task="prompt",
                          max_samples=None, eval_split=0.0, max_steps=16, per_device_train_batch_size=8,
                          num_generations=8, max_completion_length=1, learning_rate=1e-2, lora_r=0, save_steps=100,
                          reward_funcs=[{"type": "exact_match"}]))
    assert rec["status"] == "completed", rec.get("error")
    rewards = metric_values(rec, "reward")
    assert len(rewards) == 16
    first, last = sum(rewards[:4]) / 4, sum(rewards[-4:]) / 4
    assert last > first + 0.3 and last >= 0.7, rewards
