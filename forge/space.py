"""The studio as a Hugging Face Space: build a ready-to-push folder, or deploy it in one command.

    python -m forge space build DIR [--config spaces_config.yaml] [--force]
    python -m forge space deploy REPO_ID [--private] [--hardware t4-small] [--config ...]

``spaces_config.yaml`` (at the project's root) holds the Space's settings: the README front
matter (title, emoji, colours, Gradio SDK version, Python version, suggested hardware and
storage), the hardware ``deploy`` asks for, the Space's environment variables, and how its
``requirements.txt`` is made (the app's requirements without the CPU torch pin and test-only
packages, plus the GPU extras). ``deploy`` talks to the Hub through :mod:`forge.hub`'s client (``hub.account.destination``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, HubError
from .hub.account import Destination, destination
from .hub.failures import hub_errors
from .hub.names import check_repo_id

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "spaces_config.yaml"
# Front matter keys a Space understands (https://huggingface.co/docs/hub/spaces-config-reference).
CARD_KEYS = {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "python_version", "app_file",
             "app_port", "base_path", "fullWidth", "header", "short_description", "models", "datasets", "tags",
             "thumbnail", "pinned", "hf_oauth", "hf_oauth_scopes", "hf_oauth_expiration_minutes",
             "hf_oauth_authorized_org", "disable_embedding", "startup_duration_timeout", "custom_headers",
             "preload_from_hub", "suggested_hardware", "suggested_storage", "license"}
COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
STORAGE = {"small", "medium", "large"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _hardware_names() -> set[str]:
    from huggingface_hub import SpaceHardware

    return {h.value for h in SpaceHardware}


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check ``spaces_config.yaml``; a ConfigError names each wrong key."""
    import yaml

    path = Path(path) if path else CONFIG
    if not path.is_file():
        raise ConfigError(f"There is no Space config at {path}.", f"Copy {CONFIG.name} from the ModelForge sources.")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path.name} is not valid YAML: {e}", "Fix the line it names.") from None
    card = dict(cfg.get("card") or {})
    problems = _card_problems(card, cfg)
    if problems:
        raise ConfigError(f"{path.name} has problems:\n  - " + "\n  - ".join(problems),
                          "See https://huggingface.co/docs/hub/spaces-config-reference for the allowed values.")
    card["sdk_version"] = str(card["sdk_version"])
    if "python_version" in card:
        card["python_version"] = str(card["python_version"])
    cfg["card"] = card
    cfg.setdefault("env", {})
    cfg.setdefault("requirements", {})
    cfg.setdefault("include", ["app.py", "forge"])
    cfg.setdefault("exclude", ["__pycache__", "*.pyc"])
    return cfg


def _card_problems(card: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """What is wrong with the Space's README front matter (``card``) and hardware, one line each."""
    problems = []
    unknown = sorted(set(card) - CARD_KEYS)
    if unknown:
        problems.append(f"card: unknown Space keys {', '.join(unknown)} (allowed: {', '.join(sorted(CARD_KEYS))})")
    problems += [f"card.{key} is required" for key in ("title", "sdk", "sdk_version", "app_file") if not card.get(key)]
    if card.get("sdk") not in (None, "gradio"):
        problems.append(f"card.sdk must be gradio (ModelForge is a Gradio app), not {card['sdk']}")
    problems += [f"card.{key} must be one of {', '.join(sorted(COLORS))}" for key in ("colorFrom", "colorTo")
                 if key in card and card[key] not in COLORS]
    if "suggested_storage" in card and card["suggested_storage"] not in STORAGE:
        problems.append(f"card.suggested_storage must be one of {', '.join(sorted(STORAGE))}")
    problems += _hardware_problems(card, cfg)
    if len(str(card.get("short_description") or "")) > 60:
        problems.append("card.short_description is limited to 60 characters")
    return problems


def _hardware_problems(card: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    hardware = _hardware_names()
    return [f"{where}: unknown hardware '{value}' (for example t4-small, a10g-small, cpu-basic)"
            for where, value in (("card.suggested_hardware", card.get("suggested_hardware")),
                                 ("hardware", cfg.get("hardware")))
            if value is not None and value not in hardware]


def _package(line: str) -> str | None:
    m = _NAME.match(line.split("#", 1)[0])
    return m.group(1).lower().replace("_", "-") if m else None


def _requirement_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def requirements(cfg: dict[str, Any], root: Path = ROOT) -> str:
    """The Space's requirements.txt: the app's, minus ``drop``, with the GPU extras (their pins win)."""
    spec = cfg.get("requirements") or {}
    base_file = root / spec.get("from", "requirements.txt")
    if not base_file.is_file():
        raise ConfigError(f"The requirements file {base_file} is missing.", "Run the build from a ModelForge checkout.")
    drop = {str(d).lower().replace("_", "-") for d in spec.get("drop") or []}
    lines = {(_package(ln) or ln): ln for ln in _requirement_lines(base_file) if (_package(ln) or ln) not in drop}
    extras: list[str] = []
    for item in spec.get("gpu_extras") or []:
        item = str(item).strip()
        if item.endswith(".txt"):
            f = root / item
            if not f.is_file():
                raise ConfigError(f"The GPU requirements file {item} named in spaces_config.yaml is missing.",
                                  "Restore it, or remove it from requirements.gpu_extras.")
            extras += _requirement_lines(f)
        elif item:
            extras.append(item)
    for ln in extras:  # an extra replaces the app's line for the same package
        lines.pop(_package(ln) or ln, None)
        lines[_package(ln) or ln] = ln
    head = ["# Requirements of the ModelForge Space (GPU), made by `python -m forge space build`",
            f"# from {base_file.name} and the GPU extras in spaces_config.yaml."]
    return "\n".join(head + list(lines.values())) + "\n"


def readme(cfg: dict[str, Any]) -> str:
    import yaml

    front = yaml.safe_dump(cfg["card"], sort_keys=False, allow_unicode=True, default_flow_style=False).strip()
    env = cfg.get("env") or {}
    env_lines = "\n".join(f"| `{k}` | `{v}` |" for k, v in env.items())
    card = cfg["card"]
    return f"""---
{front}
---

# {card.get('title', 'ModelForge')}

Fine-tune a language model without writing code: pick a base model and a dataset, choose a training
strategy (SFT, LoRA, QLoRA, DPO, ...), watch the loss fall live, chat with the result, and push it to
the Hub with a complete model card.

## Running this Space

- **Hardware**: a GPU is suggested (`{card.get('suggested_hardware', 't4-small')}`); on CPU hardware only the
  smallest models train, slowly.
- **Persistent storage** (`{card.get('suggested_storage', 'small')}`): with it, runs and models are kept in
  `/data/modelforge` and survive restarts. Without it they are lost when the Space restarts; push the models
  you want to keep to the Hub from the Hub tab.
- **Hub token**: to push models, paste a token on the Hub tab (kept in the page only). A token set as a Space
  secret (`HF_TOKEN`) is usable by everyone who can open the Space: set one only on a private Space.

Variables (set by `python -m forge space deploy`; set them in the Space's settings when you push this
folder yourself):

| Variable | Value |
|---|---|
{env_lines}
"""


def _ignore(patterns: list[str]):
    return shutil.ignore_patterns(*patterns)


def build(dest: str | Path, *, config_path: str | Path | None = None, force: bool = False,
          root: Path = ROOT) -> dict[str, Any]:
    """Write a ready-to-push Space folder at ``dest``: README.md, app.py, forge/, requirements.txt."""
    cfg = load_config(config_path)
    dest = Path(dest).expanduser().resolve()
    if dest == root or dest in root.parents or dest == root / "forge" or (root / "forge") in dest.parents:
        raise ConfigError(f"{dest} would overwrite the ModelForge sources.", "Build into a new folder.")
    if dest.exists() and any(dest.iterdir()) and not force:
        raise ConfigError(f"{dest} is not empty.", "Give a new folder, or add --force to replace what a previous build "
                                                   "wrote there.")
    dest.mkdir(parents=True, exist_ok=True)
    exclude = list(cfg.get("exclude") or [])
    for item in cfg.get("include") or []:
        src = root / item
        if not src.exists():
            raise ConfigError(f"{item} (spaces_config.yaml include) does not exist.", "Fix the include list.")
        target = dest / item
        if src.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(src, target, ignore=_ignore(exclude))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    (dest / "README.md").write_text(readme(cfg), encoding="utf-8")
    (dest / "requirements.txt").write_text(requirements(cfg, root), encoding="utf-8")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    return {"dir": str(dest), "files": files, "config": cfg}


def deploy(repo_id: str, *, config_path: str | Path | None = None, private: bool = False,
           hardware: str | None = None, token: str | None = None,
           say: Callable[[str], None] = print) -> dict[str, Any]:
    """Create the Space (or update it) and upload a fresh build. The token comes from ``token``
    or the environment (HF_TOKEN / HUGGINGFACE_TOKEN) and is never written anywhere."""
    cfg = load_config(config_path)
    rid = check_repo_id(repo_id)
    hardware = hardware or cfg.get("hardware")
    if hardware and hardware not in _hardware_names():
        raise ConfigError(f"Unknown hardware '{hardware}'.", "For example t4-small, a10g-small or cpu-basic.")
    dest = destination(rid, token, "Deploying a Space", repo_type="space")
    env = {str(k): str(v) for k, v in (cfg.get("env") or {}).items()}
    with tempfile.TemporaryDirectory(prefix="forge-space-") as tmp:
        built = build(Path(tmp) / "space", config_path=config_path)
        files = {rel: Path(built["dir"]) / rel for rel in built["files"]}
        if dest.exists:
            say(f"Updating the Space {rid}...")
            with hub_errors(f"Setting the variables of {rid}", dest.token):
                dest.client.set_space_variables(rid, env)
        else:
            hardware = _create_space(dest, private, hardware, env, say)
        with hub_errors(f"Uploading the Space {rid}", dest.token):
            commit = dest.client.upload_files(rid, files, repo_type="space", commit_message="Deploy ModelForge",
                                              progress=_progress_lines(say))
    return {"repo_id": rid, "url": dest.url, "commit_url": commit, "files": sorted(files), "created": not dest.exists,
            "hardware": hardware}


def _create_space(dest: Destination, private: bool, hardware: str | None, env: dict[str, str],
                  say: Callable[[str], None]) -> str | None:
    """Create the Space on ``hardware``, or on free CPU hardware when the Hub does not grant it; the
    hardware it got (None: the free default)."""
    rid = dest.repo_id
    say(f"Creating the Space {rid}" + (f" on {hardware}" if hardware else "") + "...")
    try:
        _create_repo(dest, private, hardware, env)
        return hardware
    except HubError as e:
        if not hardware or getattr(e, "status", None) not in (400, 402, 403):
            raise
        say(f"The Hub did not grant {hardware} ({e.message}). Creating the Space on free CPU hardware: "
            f"pick {hardware} in its settings once billing is set up.")
    _create_repo(dest, private, None, env)
    return None


def _create_repo(dest: Destination, private: bool, hardware: str | None, env: dict[str, str]) -> None:
    with hub_errors(f"Creating the Space {dest.repo_id}", dest.token):
        dest.client.create_repo(dest.repo_id, repo_type="space", private=private, exist_ok=True, space_sdk="gradio",
                                space_hardware=hardware, space_variables=env)


def _progress_lines(say: Callable[[str], None]) -> Callable[[float, str], None]:
    """A progress callback that says a line at each tenth done (and at the end)."""
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if pct // 10 != last[0] // 10 or fraction >= 1:
            last[0] = pct
            say(f"  {pct:3d}% {message}")

    return progress


# ---- command line -----------------------------------------------------------------------------

def cmd_build(args) -> int:
    out = build(args.dir, config_path=args.config, force=args.force)
    print(f"Space folder written to {out['dir']} ({len(out['files'])} files).")
    print("Push it with: python -m forge space deploy your-name/modelforge   (or git push it to a Space)")
    return 0


def cmd_deploy(args) -> int:
    out = deploy(args.repo_id, config_path=args.config, private=args.private, hardware=args.hardware)
    print(f"{'Created' if out['created'] else 'Updated'} the Space: {out['url']}")
    print("It builds for a few minutes; its logs are on the Space's page.")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("space", help="bundle the studio as a Hugging Face Space, or deploy it")
    sub = p.add_subparsers(dest="space_command", required=True)
    b = sub.add_parser("build", help="write a ready-to-push Space folder")
    b.add_argument("dir", help="the folder to write (new or empty)")
    b.add_argument("--config", default=None, help=f"Space settings (default {CONFIG.name} at the project root)")
    b.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    b.set_defaults(fn=cmd_build)
    d = sub.add_parser("deploy", help="create or update a Space and upload the studio (token: HF_TOKEN)")
    d.add_argument("repo_id", help="namespace/name of the Space")
    d.add_argument("--config", default=None, help=f"Space settings (default {CONFIG.name} at the project root)")
    d.add_argument("--private", action="store_true", help="make a new Space private")
    d.add_argument("--hardware", default=None, help="hardware to ask for (default: spaces_config.yaml's)")
    d.set_defaults(fn=cmd_deploy)


__all__ = ["build", "deploy", "load_config", "readme", "register", "requirements"]

