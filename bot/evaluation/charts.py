"""PNG charts for the evaluation report (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_charts(reports: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    modes = list(reports)
    types = sorted({t for r in reports.values() for t in r["by_type"]})
    width = 0.8 / max(1, len(modes))

    fig, ax = plt.subplots(figsize=(10, 4))
    for i, m in enumerate(modes):
        vals = [
            reports[m]["by_type"].get(t, {}).get("accuracy")
            or reports[m]["by_type"].get(t, {}).get("refusal_accuracy")
            or 0
            for t in types
        ]
        ax.bar([x + i * width for x in range(len(types))], vals, width, label=m)
    ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(types))], types, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (refusals: refusal acc.)")
    ax.legend()
    paths.append(_save(fig, out / "accuracy_by_type.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    for m in modes:
        lat = reports[m].get("latencies", [])
        if lat:
            ax.hist(lat, bins=30, alpha=0.6, label=m)
    ax.set_xlabel("total latency per question (ms)")
    ax.legend()
    paths.append(_save(fig, out / "latency.png"))

    keys = ["accuracy", "refusal_accuracy", "citation_support", "faithfulness", "recall@3"]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, m in enumerate(modes):
        vals = [reports[m]["overall"].get(k) or 0 for k in keys]
        ax.bar([x + i * width for x in range(len(keys))], vals, width, label=m)
    ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(keys))], keys)
    ax.set_ylim(0, 1.05)
    ax.legend()
    paths.append(_save(fig, out / "modes.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
