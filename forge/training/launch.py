"""How a run's worker starts: alone (``python -m forge.training.worker RUN_DIR``) or under
Accelerate's launcher (``accelerate launch ... -m forge.training.worker RUN_DIR``) for several
processes, GPUs or machines. Every check on those settings happens here, before any process starts.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import ConfigError

# options of the launch that are not part of the run's config: they differ from machine to machine
MACHINE_OPTIONS = ("num_machines", "machine_rank", "main_process_ip", "main_process_port", "accelerate_config")


def resolve(config: RunConfig, options: dict[str, Any] | None = None, hw=None) -> dict[str, Any]:
    """The launch of a run: processes on this machine, how they share the work, the machines.
    Raises ConfigError naming the setting when the machine cannot run it."""
    from ..hardware import detect

    opts = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    unknown = sorted(set(opts) - set(MACHINE_OPTIONS))
    if unknown:
        raise ConfigError(f"Unknown launch option(s): {', '.join(unknown)} (known: {', '.join(MACHINE_OPTIONS)}).")
    hw = hw or detect()
    devices = len(hw.gpus)
    n = config.num_processes or max(1, devices)
    where = f"{devices} GPU(s)" if devices else f"no GPU and {hw.cpu_count} CPU cores"
    limit = devices if devices else hw.cpu_count
    if n > limit:
        raise ConfigError(f"num_processes: {n} processes were asked for, but this machine has {where}.",
                          f"Set num_processes to at most {limit}, or leave it empty for one per GPU.")
    mode = config.distributed
    if mode != "ddp" and not devices:
        raise ConfigError(f"distributed: {mode} shards the model across GPUs, and this machine has none.",
                          "Use distributed: ddp (several CPU processes work), or run on a machine with GPUs.")
    if mode == "fsdp" and (config.use_4bit or config.use_8bit):
        raise ConfigError("distributed: FSDP cannot shard a 4-bit or 8-bit quantized base model here.",
                          "Use distributed: ddp with QLoRA, or turn off use_4bit/use_8bit to shard with FSDP.")
    if mode.startswith("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"distributed: {mode} needs DeepSpeed, which is not installed.",
                          "Install it with `pip install deepspeed` (it compiles for your CUDA version), "
                          "or use distributed: fsdp, which needs nothing more.")
    if opts.get("accelerate_config"):
        opts = {**_from_accelerate_config(opts["accelerate_config"]), **opts}
    machines = int(opts.get("num_machines") or 1)
    rank = int(opts.get("machine_rank") or 0)
    if machines < 1 or not 0 <= rank < machines:
        raise ConfigError(f"machine_rank: {rank} is not between 0 and num_machines - 1 ({machines - 1}).",
                          "Number the machines 0, 1, ...; machine 0 is the main one.")
    if machines > 1 and not opts.get("main_process_ip") and not opts.get("accelerate_config"):
        raise ConfigError("main_process_ip: a run on several machines needs the address of machine 0.",
                          "Pass --main-process-ip with machine 0's address (the same on every machine).")
    return {"num_processes": n, "distributed": mode, "device": "gpu" if devices else "cpu", **opts,
            "num_machines": machines, "machine_rank": rank}


def _from_accelerate_config(path: str) -> dict[str, Any]:
    """The machines an Accelerate config file describes (this machine's rank among them)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"accelerate_config: no file at {path}.",
                          "Give the path of a file written by `accelerate config`, or leave it out.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise ConfigError(f"accelerate_config: {p.name} is not valid YAML.",
                          "Write it with `accelerate config`, or fix the line it names.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"accelerate_config: {p.name} is not a mapping of Accelerate settings.")
    return {k: data[k] for k in ("num_machines", "machine_rank") if isinstance(data.get(k), int)}


def describe(launch: dict[str, Any] | None) -> str:
    """'2 processes · ddp on CPU' and the like, for the page and the log."""
    launch = launch or {}
    n = int(launch.get("num_processes") or 1)
    machines = int(launch.get("num_machines") or 1)
    if n <= 1 and machines <= 1:
        return "1 process"
    text = f"{n} processes · {launch.get('distributed', 'ddp')} on {str(launch.get('device', 'cpu')).upper()}"
    return text + (f" · machine {launch.get('machine_rank', 0)} of {machines}" if machines > 1 else "")


def distributed(launch: dict[str, Any] | None) -> bool:
    launch = launch or {}
    return bool(int(launch.get("num_processes") or 1) > 1 or int(launch.get("num_machines") or 1) > 1
                or launch.get("accelerate_config"))


def command(folder: str | Path, launch: dict[str, Any] | None) -> list[str]:
    """The command line that starts a run's worker."""
    worker = ["-m", "forge.training.worker", str(folder)]
    if not distributed(launch):
        return [sys.executable, *worker]
    launch = launch or {}
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if launch.get("accelerate_config"):
        cmd += ["--config_file", str(launch["accelerate_config"])]
    else:
        machines = int(launch.get("num_machines") or 1)
        total = int(launch.get("num_processes") or 1) * machines
        mode = launch.get("distributed", "ddp")
        if mode == "fsdp":
            cmd += ["--use_fsdp", "--fsdp_sharding_strategy", "FULL_SHARD", "--fsdp_auto_wrap_policy",
                    "TRANSFORMER_BASED_WRAP", "--fsdp_state_dict_type", "FULL_STATE_DICT"]
        elif mode.startswith("deepspeed"):
            cmd += ["--use_deepspeed", "--zero_stage", mode[-1]]
        else:
            cmd += ["--multi_gpu"]
        cmd += ["--num_processes", str(total), "--num_machines", str(machines),
                "--mixed_precision", "no", "--dynamo_backend", "no"]
        if machines > 1:
            cmd += ["--machine_rank", str(launch.get("machine_rank", 0)),
                    "--main_process_ip", str(launch["main_process_ip"])]
    if launch.get("main_process_port"):
        cmd += ["--main_process_port", str(launch["main_process_port"])]
    return cmd + worker
