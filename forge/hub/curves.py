"""The loss-curve image a model card shows: training (and evaluation) loss per step, per phase.

The points come from the run's :class:`~forge.training.state.RunState`, the one reader of its event
log (a resumed run's steps counted once).
"""

from __future__ import annotations

from pathlib import Path

from ..training.state import RunState

_LABELS = {"train loss": "training loss", "eval loss": "evaluation loss"}


def loss_curve_png(events_path: str | Path | None, dest: str | Path) -> Path | None:
    """Draw the run's training (and evaluation) loss from its event log into a PNG; None when
    the log holds no loss."""
    if not events_path or not Path(events_path).is_file():
        return None
    state = RunState(run_id=Path(events_path).parent.name, metric_keys=())
    state.read_more(events_path)
    series = state.series("loss")
    if not series:
        return None
    return _draw(series, Path(dest))


def _label(series: str) -> tuple[str, bool]:
    """A series' legend label ("training loss (reward)"), and whether it is an evaluation series."""
    for name, label in _LABELS.items():
        if series.endswith(name):
            phase = series[: -len(name)].strip()
            return label + (f" ({phase})" if phase else ""), name == "eval loss"
    return series, False


def _draw(series: dict[str, list[tuple[float, float]]], dest: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, points in series.items():
        label, is_eval = _label(name)
        ax.plot([s for s, _ in points], [v for _, v in points], marker="o" if is_eval else None, markersize=4,
                label=label, linestyle="--" if is_eval else "-")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, format="png")
    return dest
