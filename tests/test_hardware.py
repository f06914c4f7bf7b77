from forge.hardware import GPU, Hardware, ModelShape, estimate_memory, profile_defaults

CPU = Hardware("test cpu", 2, 24.0)
T4 = Hardware("x", 8, 32.0, (GPU(0, "Tesla T4", 15.0, False),))
A100 = Hardware("x", 8, 64.0, (GPU(0, "A100", 80.0, True),))
SMOL = ModelShape(135_000_000, 576, 30, 49152)
LLAMA8B = ModelShape(8_000_000_000, 4096, 32, 128256)


def test_detect_reports_this_machine():
    from forge.hardware import detect

    hw = detect()
    assert hw.cpu_count >= 1 and hw.ram_gb > 0
    assert hw.profile in ("cpu", "low", "mid", "high")
    assert hw.profile in hw.summary()


def test_profiles():
    assert CPU.profile == "cpu" and T4.profile == "mid" and A100.profile == "high"
    assert Hardware("x", 1, 8, (GPU(0, "small", 8.0, False),)).profile == "low"
    d = profile_defaults(T4)
    assert d["fp16"] is True and d["bf16"] is False
    assert profile_defaults(A100)["bf16"] is True
    assert profile_defaults(CPU)["bf16"] is False


def test_estimate_grows_with_batch_and_shrinks_with_quantization():
    a = estimate_memory(SMOL, batch_size=1, seq_len=256, hw=CPU)
    b = estimate_memory(SMOL, batch_size=8, seq_len=256, hw=CPU)
    assert b.total_gb > a.total_gb
    q = estimate_memory(LLAMA8B, bits=4, batch_size=1, seq_len=512, hw=A100)
    f = estimate_memory(LLAMA8B, bits=16, batch_size=1, seq_len=512, hw=A100)
    assert q.weights_gb < f.weights_gb / 3


def test_full_finetune_of_8b_on_t4_warns():
    e = estimate_memory(LLAMA8B, lora_r=0, bits=16, batch_size=2, seq_len=1024, hw=T4)
    assert not e.fits and "GiB" in e.warning and "qlora" in e.warning
    ok = estimate_memory(SMOL, batch_size=2, seq_len=256, hw=T4)
    assert ok.fits and ok.warning is None


def test_shape_from_config():
    from transformers import LlamaConfig

    cfg = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                      num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True)
    s = ModelShape.from_config(cfg)
    assert 120e6 < s.n_params < 150e6  # SmolLM2-135M
