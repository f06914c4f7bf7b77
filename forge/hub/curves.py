"""The loss-curve image a model card shows: training (and evaluation) loss per step, per phase."""

from __future__ import annotations

from pathlib import Path

from ..training.events import read_all

Series = dict[str, tuple[list[float], list[float]]]  # "key|phase" -> (steps, values)


def loss_curve_png(events_path: str | Path | None, dest: str | Path) -> Path | None:
    """Draw the run's training (and evaluation) loss from its event log into a PNG; None when
    the log holds no loss."""
    if not events_path or not Path(events_path).is_file():
        return None
    series, phases = _loss_series(events_path)
    if not series:
        return None
    return _draw(series, len(phases) > 1, Path(dest))


def _loss_series(events_path: str | Path) -> tuple[Series, set[str]]:
    """The loss and eval_loss points of the metrics events, by key and phase; the phases seen."""
    series: Series = {}
    phases = set()
    for ev in read_all(events_path):
        if ev.get("kind") != "metrics" or ev.get("step") is None:
            continue
        phase = ev.get("phase") or ""
        phases.add(phase)
        for key in ("loss", "eval_loss"):
            v = ev.get(key)
            if isinstance(v, (int, float)):
                xs, ys = series.setdefault(f"{key}|{phase}", ([], []))
                xs.append(float(ev["step"]))
                ys.append(float(v))
    return series, phases


def _draw(series: Series, name_phases: bool, dest: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, (xs, ys) in sorted(series.items(), key=lambda kv: (kv[0].split("|")[1], kv[0].startswith("eval"))):
        key, phase = name.split("|")
        label = ("training loss" if key == "loss" else "evaluation loss") + (f" ({phase})" if name_phases else "")
        ax.plot(xs, ys, marker="o" if key == "eval_loss" else None, markersize=4, label=label,
                linestyle="--" if key == "eval_loss" else "-")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, format="png")
    return dest
