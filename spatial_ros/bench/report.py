"""Benchmark tables saved as markdown and as a PNG image (matplotlib, headless)."""
from __future__ import annotations

import pathlib

__all__ = ["save_table"]


def save_table(markdown: str, stem: pathlib.Path, *, title: str = "") -> tuple[pathlib.Path,
                                                                              pathlib.Path]:
    """Write ``stem.md`` and ``stem.png`` of a markdown table; return both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = pathlib.Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = stem.with_suffix(".md")
    md.write_text((f"## {title}\n\n" if title else "") + markdown + "\n")
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    rows = [[c.strip().replace("**", "") for c in ln.strip("|").split("|")] for ln in lines]
    rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]
    header, body = rows[0], rows[1:]
    fig, ax = plt.subplots(figsize=(2.2 + 2.0 * len(header), 0.6 + 0.32 * len(rows)))
    ax.axis("off")
    table = ax.table(cellText=body, colLabels=header, loc="center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.auto_set_column_width(col=list(range(len(header))))  # long row names stay whole
    table.scale(1, 1.3)
    for (r, _c), cell in table.get_celld().items():
        if r == 0:
            cell.set_facecolor("#dde4ee")
            cell.set_text_props(weight="bold")
    if title:
        ax.set_title(title, fontsize=10)
    png = stem.with_suffix(".png")
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return md, png
