"""The command line: the same queue and worker processes the page uses, headless.

    python -m forge train CONFIG.yaml [--set key=value ...] [--num-processes N] [--distributed ddp]
                                      [--num-machines 2 --machine-rank 0 --main-process-ip IP]
                                      [--accelerate-config FILE] [--detach]
    python -m forge stop RUN_ID [--now]
    python -m forge resume RUN_ID [--max-steps N] [--num-train-epochs X] [--detach]
    python -m forge runs
    python -m forge show RUN_ID
    python -m forge config                      print a commented config to start from
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .errors import ForgeError


def _progress_line(state) -> str:
    """The progress bar line of a run's state (redrawn in place)."""
    from .training.state import clock

    p = state.progress
    step, total = p.get("step", 0), p.get("max_steps") or 0
    width = 30
    done = int(width * state.progress_fraction()) if total else 0
    eta = clock(p.get("eta")) if isinstance(p.get("eta"), (int, float)) else "--:--"
    phase = f"{p['phase']} " if p.get("phase") not in (None, "train") else ""
    return (f"\r{phase}[{'#' * done}{'.' * (width - done)}] {step}/{total} "
            f"epoch {p.get('epoch') or 0:.2f} · ETA {eta} · {p.get('tokens_per_second') or 0:.0f} tok/s")


_METRICS_SHOWN = ("loss", "eval_loss", "learning_rate", "reward", "rewards/accuracies", "eval_perplexity")


def _metrics_line(state) -> str:
    """The last metrics event's main values as one line (empty when it has none of them)."""
    shown = {k: v for k, v in state.step_metrics.items() if k in _METRICS_SHOWN and isinstance(v, (int, float))}
    return f"step {state.step_metrics.get('step')}: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()) + "\n" \
        if shown else ""


def _print_events(state, events: list[dict[str, Any]], bar: bool, out) -> bool:
    """Fold events into the run's state and write what changed to ``out``: progress redraws one bar
    line; new log lines and metrics end it and print lines. Returns whether the bar is the last thing written."""
    for ev in events:
        seen = state.log_count
        state.feed([ev])
        lines = "".join(line + "\n" for line in state.new_log_lines(seen))
        if ev.get("kind") == "metrics":
            lines += _metrics_line(state)
        if lines:
            out.write(("\n" if bar else "") + lines)
            bar = False
        elif ev.get("kind") == "progress":
            out.write(_progress_line(state))
            bar = True
    return bar


def follow(events_path: str, until_done: threading.Event, out=None, run_id: str = "") -> None:
    """Print a run's events (log lines, metrics, a progress bar) as they are written (to ``out``,
    by default the standard output as it is when the run starts), folded by the engine's RunState."""
    from .training.state import RunState

    out = out or sys.stdout
    state = RunState(run_id=run_id)
    bar = False
    while True:
        finished = until_done.is_set()
        events, _changed = state.read_more(events_path)
        bar = _print_events(state, events, bar, out)
        out.flush()
        if finished:
            if bar:
                out.write("\n")
            return
        time.sleep(0.2)


def _settings(items: list[str] | None) -> dict[str, Any]:
    """``--set key=value`` pairs (values read as YAML); ``--set columns.prompt=question`` sets one
    key of a mapping (added to the config's mapping); a pair without ``=`` is an error."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ForgeError(f"--set {item}: write it as KEY=VALUE, for example --set max_steps=100.")
        key, dot, sub = key.strip().partition(".")
        if dot and sub:
            inner = out.get(key) if isinstance(out.get(key), dict) else {}
            out[key] = {**inner, sub: yaml.safe_load(value)}
        else:
            out[key] = yaml.safe_load(value)
    return out


def cmd_train(args) -> int:
    from .config import load_config, parse_config
    from .runs import get_store
    from .training.queue import JobQueue

    config = load_config(args.config)
    overrides = _settings(args.set)
    for key in ("num_processes", "distributed"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if overrides:
        base = config.to_dict(only_set=True)
        for k, v in overrides.items():  # a mapping (columns, template_values) adds to the config's own
            if isinstance(v, dict) and isinstance(base.get(k), dict):
                overrides[k] = {**base[k], **v}
        config = parse_config({**base, **overrides})
    machine = {k: getattr(args, k) for k in ("num_machines", "machine_rank", "main_process_ip", "main_process_port",
                                             "accelerate_config")}
    queue = JobQueue(get_store(), standby=False)
    rec = queue.submit(config, launch_options=machine)
    print(f"Run {rec['id']} ({rec['name']}) — events: {rec['events_path']}")
    return _follow_to_end(queue, rec, args.detach)


def _follow_to_end(queue, rec: dict[str, Any], detach: bool) -> int:
    """Print the run's events until it ends (Ctrl-C stops it at the next step, twice at once)."""
    if detach:
        deadline = time.time() + 30
        while time.time() < deadline:  # until its worker is recorded (or another run trains first)
            now = queue.store.get_run(rec["id"]) or {}
            if now.get("pid") or now.get("status") not in ("queued", "running") \
                    or queue.current not in (None, rec["id"]):
                break
            time.sleep(0.2)
        now = queue.store.get_run(rec["id"]) or {}
        state = "training in the background" if now.get("pid") else now.get("status", "queued")
        print(f"Run {rec['id']} is {state}; it goes on without this command. Follow it on the page, "
              f"or with: python -m forge show {rec['id']}")
        return 0
    done = threading.Event()
    printer = threading.Thread(target=follow, args=(rec["events_path"], done, None, rec["id"]), daemon=True)
    printer.start()
    final = None
    presses = 0
    while final is None:
        try:
            final = queue.wait(rec["id"])
        except KeyboardInterrupt:
            presses += 1
            print("\nStopping after the current step (Ctrl-C again to end it at once)..." if presses == 1
                  else "\nEnding the run's processes now...")
            queue.stop(rec["id"], now=presses > 1)
    done.set()
    printer.join()
    queue.close()
    if final["status"] == "completed":
        m = final.get("metrics", {})
        print(f"Completed. Model saved to {final.get('output_dir')}")
        print("Final: " + ", ".join(f"{k} {m[k]:.4f}" for k in ("train_loss", "loss", "eval_loss", "eval_perplexity") if k in m))
        return 0
    print(f"Run {final['status']}: {final.get('error') or ''}".rstrip(), file=sys.stderr)
    return 0 if final["status"] == "stopped" else 1


def cmd_stop(args) -> int:
    from .runs import get_store
    from .training.queue import JobQueue

    queue = JobQueue(get_store(), standby=False)
    print(f"Run {args.run_id}: {queue.stop(args.run_id, now=args.now)}")
    queue.close()
    return 0


def cmd_resume(args) -> int:
    from .runs import get_store
    from .training.queue import JobQueue

    queue = JobQueue(get_store(), standby=False)
    rec = queue.resume(args.run_id, max_steps=args.max_steps, num_train_epochs=args.num_train_epochs)
    print(f"Run {rec['id']} ({rec['name']}) resumes from {Path(rec['resume_from']).name}")
    return _follow_to_end(queue, rec, args.detach)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s"


def cmd_runs(args) -> int:
    from .history import history_table

    runs = history_table()
    if not runs:
        print("No runs yet. Start one with: python -m forge train CONFIG.yaml")
        return 0
    print(f"{'ID':24} {'NAME':28} {'STRATEGY':9} {'TASK':16} {'STATUS':11} {'TIME':8} LOSS")
    for r in runs:
        loss = r["final_loss"]
        print(f"{r['id']:24} {str(r['name'])[:28]:28} {r['strategy'] or '-':9} {r['task'] or '-':16} "
              f"{r['status']:11} {_duration(r['duration_s']):8} {'' if loss is None else f'{loss:.4f}'}")
    return 0


def cmd_show(args) -> int:
    """One run as the API's /run_detail gives it (the same engine function), in words or as JSON."""
    from .history import public, run_detail

    try:
        d = run_detail(args.run_id)
    except ForgeError as e:
        raise ForgeError(e.message, "List the runs with: python -m forge runs") from None
    if args.json:
        print(json.dumps(public(d), indent=2, default=str))
        return 0
    print(f"Run {d['id']}: {d['name']}\n  status: {d['status']}" + (f" — {d['error']}" if d.get("error") else ""))
    for k in ("model", "strategy", "task", "dataset", "provider", "output_dir", "devices", "tensorboard_dir"):
        if d.get(k):
            print(f"  {k}: {d[k]}")
    print(f"  duration: {_duration(d['duration_s'])}")
    if d["checkpoints"]:
        print("  checkpoints: " + ", ".join(f"{c['name']} ({c['size']})" for c in d["checkpoints"]))
    _print_mapping("final metrics", d["metrics"], numbers=True)
    _print_mapping("config", d["config"])
    return 0


def _print_mapping(title: str, values: dict[str, Any], numbers: bool = False) -> None:
    if not values:
        return
    print(f"  {title}:")
    for k, v in (sorted(values.items()) if numbers else values.items()):
        print(f"    {k}: {v:.6g}" if isinstance(v, float) else f"    {k}: {v}")


def cmd_delete_run(args) -> int:
    from .housekeeping import delete_run

    r = delete_run(args.run_id)
    print(f"Deleted run {r['run_id']} ({r['name']}): {r['freed']} freed"
          + (f"; its model stays at {', '.join(r['kept_model'])}" if r["kept_model"] else ""))
    return 0


def _listing(rows: list[dict], empty: str, line) -> int:
    print("\n".join(map(line, rows)) if rows else empty)
    return 0


def _deleted(r: dict, what: str = "") -> int:
    print(f"Deleted {what}{r['name']}: {r['freed']} freed")
    return 0


def cmd_datasets(args) -> int:
    from .housekeeping import list_datasets

    return _listing(list_datasets(), "No uploaded datasets.", lambda d: f"{d['name']:40} {d['size']:>9}")


def cmd_delete_dataset(args) -> int:
    from .housekeeping import delete_dataset

    return _deleted(delete_dataset(args.name))


def cmd_exports(args) -> int:
    from .housekeeping import list_exports

    return _listing(list_exports(), "No exports.", lambda d: f"{d['name']:40} {d['size']:>9}  {', '.join(d['files'])}")


def cmd_delete_export(args) -> int:
    from .housekeeping import delete_export

    return _deleted(delete_export(args.name), "the export ")


def _bar(fraction: float, message: str) -> None:
    print(f"\r[{'#' * int(fraction * 20):20}] {fraction:4.0%} {message[:70]:70}", end="", file=sys.stderr, flush=True)


def cmd_export(args) -> int:
    """A model (a fine-tuned model's id or name, a run id, or a base model) as a GGUF file or a .zip."""
    if args.format == "zip":
        from .export import archive
        from .refs import record

        path = archive(record(args.ref)["id"], progress=_bar)
        print(f"\n{path}")
        return 0
    from .gguf_export import estimate_sizes, export_gguf
    from .models import human_size

    sizes = estimate_sizes(args.ref)
    print("GGUF sizes: " + ", ".join(f"{q} ~{human_size(n)}" for q, n in sizes.items()), file=sys.stderr)
    rec = export_gguf(args.ref, args.quant, args.name, progress=_bar)
    print(f"\nExported {rec['name']} ({rec['id']}): {rec['folder']}")
    return 0


def cmd_strategies(args) -> int:
    from .strategies import STRATEGIES

    for name, cls in STRATEGIES.items():
        s = cls()
        print(f"{name:8} {s.label}: trains on {', '.join(s.tasks)} data" + (f" · settings: {', '.join(s.settings)}"
                                                                          if s.settings else ""))
    return 0


def cmd_prepare(args) -> int:
    """Convert the embedded model now, so that the first run starts training at once."""
    from . import catalog

    if catalog.embedded_ready():
        print(f"The embedded model is ready: {catalog.embedded_folder()}")
        return 0
    print("Unpacking the embedded model (once, about 20 s)...", flush=True)
    t0 = time.time()
    folder = catalog.embedded_folder()
    print(f"Ready in {time.time() - t0:.0f} s: {folder}")
    return 0


def cmd_config(args) -> int:
    from .config import RunConfig

    cfg = RunConfig()
    lines = ["# ModelForge run config. Run it with: python -m forge train this.yaml"]
    for name, field in RunConfig.model_fields.items():
        value = getattr(cfg, name)
        doc = f"  # {field.description}" if field.description else ""
        import yaml

        rendered = yaml.safe_dump({name: value}, default_flow_style=True).strip().strip("{}")
        lines.append(("" if value is not None else "# ") + rendered + doc)
    print("\n".join(lines))
    return 0


def _command(sub: Any, name: str, fn: Any, text: str, *arguments: str) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` (help ``text``) that runs ``fn``, with positional ``arguments`` and
    on/off ``--flags``; returns its parser for further arguments."""
    p = sub.add_parser(name, help=text)
    for arg in arguments:
        if arg.startswith("--"):
            p.add_argument(arg, action="store_true")
        else:
            p.add_argument(arg)
    p.set_defaults(fn=fn)
    return p


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m forge", description="ModelForge: fine-tune language models.")
    sub = p.add_subparsers(dest="command", required=True)
    t = _command(sub, "train", cmd_train, "train from a YAML/JSON run config", "config")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)")
    t.add_argument("--num-processes", dest="num_processes", type=int, help="training processes on this machine "
                   "(default: one per GPU; 1 on a CPU)")
    t.add_argument("--distributed", choices=("ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"),
                   help="how several processes share the work (default ddp)")
    t.add_argument("--num-machines", dest="num_machines", type=int, help="machines taking part (Accelerate's flag)")
    t.add_argument("--machine-rank", dest="machine_rank", type=int, help="this machine's number, 0 on the main one")
    t.add_argument("--main-process-ip", dest="main_process_ip", help="address of machine 0")
    t.add_argument("--main-process-port", dest="main_process_port", type=int, help="port on machine 0 (default 29500)")
    t.add_argument("--accelerate-config", dest="accelerate_config", metavar="FILE",
                   help="an `accelerate config` file to launch with instead of the flags above")
    t.add_argument("--detach", action="store_true", help="queue the run and return; it trains on in the background")
    _command(sub, "stop", cmd_stop, "stop a run at the next step (--now: end its processes at once)", "run_id", "--now")
    rs = _command(sub, "resume", cmd_resume, "resume a stopped, failed or interrupted run from its last checkpoint, "
                                             "or train a finished one further", "run_id")
    rs.add_argument("--max-steps", dest="max_steps", type=int, help="train until this step")
    rs.add_argument("--num-train-epochs", dest="num_train_epochs", type=float, help="train until this many epochs")
    rs.add_argument("--detach", action="store_true")
    _command(sub, "runs", cmd_runs, "list runs")
    _command(sub, "show", cmd_show, "show one run with its final metrics", "run_id", "--json")
    _command(sub, "delete-run", cmd_delete_run, "delete a run that is not active, with its checkpoints (its saved "
                                                "model stays)", "run_id")
    _command(sub, "datasets", cmd_datasets, "list the uploaded datasets")
    _command(sub, "delete-dataset", cmd_delete_dataset, "delete an uploaded dataset", "name")
    _command(sub, "exports", cmd_exports, "list the archives made for download")
    ex = _command(sub, "export", cmd_export, "export a model as a GGUF file (llama.cpp, Ollama, LM Studio) or a .zip")
    ex.add_argument("ref", help="a fine-tuned model's id or name, a run id, or a base model (Hub id or folder)")
    ex.add_argument("--format", choices=["gguf", "zip"], default="gguf")
    ex.add_argument("--quant", default="q8_0", help="GGUF type: f16, q8_0 (default) or q4_0")
    ex.add_argument("--name", help="the new model's name (GGUF)")
    _command(sub, "delete-export", cmd_delete_export, "delete a model's download archives", "name")
    _command(sub, "prepare", cmd_prepare, "unpack the embedded model now (the first run then starts at once)")
    _command(sub, "strategies", cmd_strategies, "list the training strategies, their data and settings")
    _command(sub, "config", cmd_config, "print a config file with every setting and its default")
    from .space import register as add_space_commands

    add_space_commands(sub)  # "space build" and "space deploy"
    return p


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # bitsandbytes warns on every CPU start that an optional kernel package is missing
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ForgeError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the disk: full, read-only, not ours
        from .settings import get_settings, home_error

        print(f"Error: {home_error(get_settings().home, e)}", file=sys.stderr)
        return 2
