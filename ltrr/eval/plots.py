"""PNG plots of a run: cumulative regret with seed bands, and intent x arm heatmaps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_regret(curves: dict[str, list[np.ndarray]], path: Path | str) -> None:
    """Cumulative regret vs round, mean over seeds with a 95% normal band, one line per policy."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in curves.items():
        arr = np.vstack(runs)
        mean = arr.mean(0)
        half = 1.96 * arr.std(0, ddof=1) / np.sqrt(len(arr)) if len(arr) > 1 else np.zeros_like(mean)
        x = np.arange(1, arr.shape[1] + 1)
        ax.plot(x, mean, label=name)
        ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative regret (vs per-query oracle allocation)")
    ax.legend()
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
