"""PNG plots: curves with seed bands (cumulative regret, rolling recall), heatmaps, reliability diagrams."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_regret(curves: dict[str, list[np.ndarray]], path: Path | str) -> None:
    """Cumulative regret vs round, mean over seeds with a 95% normal band, one line per policy."""
    plot_bands(curves, path, "round", "cumulative regret (vs per-query oracle allocation)")


def plot_bands(curves: dict[str, list[np.ndarray]], path: Path | str, xlabel: str, ylabel: str,
               x: np.ndarray | None = None, title: str = "", logx: bool = False) -> None:
    """Mean over seeds with a 95% normal band, one line per name.

    Parameters
    ----------
    curves : mapping of name to list of arrays, each shape ``(n_points,)``
        One array per seed.
    x : numpy.ndarray, shape ``(n_points,)``, optional
        Abscissae (default 1..n_points).
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in curves.items():
        arr = np.vstack(runs)
        mean = arr.mean(0)
        half = 1.96 * arr.std(0, ddof=1) / np.sqrt(len(arr)) if len(arr) > 1 else np.zeros_like(mean)
        xs = np.arange(1, arr.shape[1] + 1) if x is None else x
        ax.plot(xs, mean, label=name)
        ax.fill_between(xs, mean - half, mean + half, alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(pairs: dict[str, tuple[np.ndarray, np.ndarray]], path: Path | str, bins: int = 10) -> None:
    """Reliability diagram: mean observed frequency per bin of predicted probability, one line per name.

    Parameters
    ----------
    pairs : mapping of name to (predicted, observed), each shape ``(n,)``
        Predictions are clipped to [0, 1]; observations are 0/1.
    """
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    edges = np.linspace(0, 1, bins + 1)
    for name, (pred, obs) in pairs.items():
        pred = np.clip(np.asarray(pred, dtype=float), 0, 1)
        idx = np.clip(np.digitize(pred, edges) - 1, 0, bins - 1)
        keep = [b for b in range(bins) if np.any(idx == b)]
        ax.plot([pred[idx == b].mean() for b in keep], [np.mean(np.asarray(obs)[idx == b]) for b in keep], "o-",
                label=name)
    ax.set(xlabel="predicted P(rank <= depth)", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmap(table: dict[str, dict[str, float]], path: Path | str, title: str) -> None:
    """Rows = intents, columns = arms, cells annotated."""
    rows = list(table)
    cols = list(next(iter(table.values())))
    data = np.array([[table[r].get(c, 0.0) for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(0.9 * len(cols) + 3.2, 0.5 * len(rows) + 1.5))
    im = ax.imshow(data, cmap="viridis", vmin=0, vmax=max(1e-9, data.max()))
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center",
                    color="white" if data[i, j] < 0.6 * data.max() else "black", fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ope(points: dict[str, tuple[np.ndarray, np.ndarray]], path: Path | str, title: str = "") -> None:
    """Off-policy estimates against the on-policy truth, one marker style per estimator.

    Parameters
    ----------
    points : mapping of estimator name to (truth, estimate), each shape ``(n_runs,)``
    """
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    allv = np.concatenate([np.concatenate(v) for v in points.values()]) if points else np.zeros(1)
    lo, hi = float(allv.min()), float(allv.max())
    pad = 0.05 * max(hi - lo, 1e-3)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="estimate = truth")
    for name, (truth, est) in points.items():
        ax.plot(truth, est, "o", alpha=0.7, label=name)
    ax.set(xlabel="on-policy value (truth)", ylabel="off-policy estimate", title=title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
