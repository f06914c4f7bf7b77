import pytest
import yaml

from forge.config import EMBEDDED_MODEL, RunConfig, load_config, parse_config, resolve_defaults
from forge.errors import ConfigError
from forge.hardware import PROFILE_DEFAULTS


def test_defaults_are_embedded_model_and_lora():
    c = RunConfig()
    assert c.model_name == EMBEDDED_MODEL
    assert c.strategy == "sft" and c.lora_r == 16 and c.target_modules == "all-linear"


def test_unknown_key_refused_with_suggestion():
    with pytest.raises(ConfigError) as e:
        parse_config({"learning_rat": 1e-4})
    assert "learning_rat: unknown setting" in str(e.value)
    assert "learning_rate" in str(e.value)


@pytest.mark.parametrize("field,value,words", [
    ("learning_rate", -1, ">"),
    ("eval_split", 0.9, "<= 0.5"),
    ("lora_dropout", 1.5, "< 1.0"),
    ("per_device_train_batch_size", 0, ">= 1"),
    ("lr_scheduler_type", "sometimes", "one of"),
    ("bnb_4bit_quant_type", "int3", "nf4"),
])
def test_bad_values_name_field_and_range(field, value, words):
    with pytest.raises(ConfigError) as e:
        parse_config({field: value})
    msg = str(e.value)
    assert field in msg and words in msg


def test_conflicting_quantization_refused():
    with pytest.raises(ConfigError, match="use_4bit and use_8bit"):
        parse_config({"use_4bit": True, "use_8bit": True})
    with pytest.raises(ConfigError, match="lora_r > 0"):
        parse_config({"use_4bit": True, "lora_r": 0})


def test_target_modules_accepts_comma_string():
    assert parse_config({"target_modules": "q_proj, v_proj"}).target_modules == ["q_proj", "v_proj"]


def test_yaml_round_trip(tmp_path):
    c = parse_config({"learning_rate": 1e-4, "max_steps": 7, "target_modules": ["q_proj"], "run_name": "x"})
    p = tmp_path / "c.yaml"
    p.write_text(c.to_yaml())
    assert load_config(p) == c


def test_yaml_syntax_error_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("learning_rate: 1e-4\nmax_steps: [1,\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(p)


def test_bad_field_in_file_names_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("num_train_epochs: -3\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "c.yaml" in str(e.value) and "num_train_epochs" in str(e.value)


def test_profile_fills_unset_and_user_value_wins():
    cpu = PROFILE_DEFAULTS["cpu"]
    c = resolve_defaults(parse_config({"per_device_train_batch_size": 7}), cpu)
    assert c.per_device_train_batch_size == 7          # the user's value
    assert c.max_seq_length == cpu["max_seq_length"]   # from the profile
    assert c.max_steps == cpu["max_steps"]
    assert c.bf16 is False


def test_epochs_set_by_user_are_not_capped_by_profile_steps():
    c = resolve_defaults(parse_config({"num_train_epochs": 3}), PROFILE_DEFAULTS["cpu"])
    assert c.max_steps == -1 and c.num_train_epochs == 3


def test_profiles_differ():
    assert PROFILE_DEFAULTS["cpu"]["per_device_train_batch_size"] < PROFILE_DEFAULTS["high"]["per_device_train_batch_size"]
    assert PROFILE_DEFAULTS["low"]["gradient_checkpointing"] is True


def test_example_config_is_valid():
    from pathlib import Path

    for p in (Path(__file__).parent.parent / "examples").glob("*.yaml"):
        load_config(p)
    assert yaml.safe_load(RunConfig().to_yaml())["model_name"] == EMBEDDED_MODEL
