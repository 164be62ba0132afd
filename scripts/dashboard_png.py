#!/usr/bin/env python3
"""Draws the layout of an environment's CloudWatch dashboard from the dashboard's own body in the synthesized service
template: each widget where CloudWatch places it (24 columns), with its title, its metrics and its lines.

.venv/bin/python scripts/dashboard_png.py                # prod's dashboard -> docs/dashboard.png
.venv/bin/python scripts/dashboard_png.py --check        # exit 1 if docs/dashboard.png is not what the body draws
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path
from typing import Any

from scripts.operator_cli import Parser
from scripts.synthesized import dashboard_body, synthesize

ROOT = Path(__file__).resolve().parents[1]
PNG = ROOT / "docs" / "dashboard.png"
_TOKEN = re.compile(r"@@\d+@@")


def metric_lines(widget: dict[str, Any]) -> list[str]:
    """One line per metric of a widget: `namespace metric (statistic, label)`; alarms by count."""
    props = widget["properties"]
    if widget["type"] == "alarm":
        return [f"{len(props['alarms'])} alarms: state at a glance"]
    lines = []
    for metric in props.get("metrics", []):
        options = metric[-1] if isinstance(metric[-1], dict) else {}
        dims = [d for d in metric[2 : len(metric) - (1 if options else 0)]]
        roles = [dims[i + 1] for i in range(0, len(dims), 2) if dims[i] == "Role"]
        role = f" {roles[0]}" if roles else ""
        lines.append(f"{metric[0]} {metric[1]}{role} ({options.get('stat', 'Average')})")
    for annotation in props.get("annotations", {}).get("horizontal", []):
        lines.append(f"-- line: {annotation.get('label', '')} = {annotation['value']:g}")
    return lines


def draw(body: dict[str, Any], title: str) -> bytes:
    """The PNG of the body's layout (matplotlib's Agg backend, no timestamp: the same body draws the same bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    widgets = body["widgets"]
    rows = max(w["y"] + w["height"] for w in widgets)
    figure, axes = plt.subplots(figsize=(16, rows * 0.55 + 0.8), dpi=80)
    axes.set_xlim(0, 24)
    axes.set_ylim(rows, 0)
    axes.axis("off")
    axes.set_title(title, fontsize=13, loc="left")
    for widget in widgets:
        x, y, w, h = widget["x"], widget["y"], widget["width"], widget["height"]
        colour = "#fdecea" if widget["type"] == "alarm" else "#eef4fb"
        axes.add_patch(Rectangle((x + 0.1, y + 0.1), w - 0.2, h - 0.2, facecolor=colour, edgecolor="#5b7fa6"))
        name = _TOKEN.sub("…", widget["properties"].get("title", ""))
        axes.text(x + 0.35, y + 0.7, name, fontsize=10, weight="bold", va="center")
        for i, line in enumerate(metric_lines(widget)):
            axes.text(x + 0.35, y + 1.5 + i * 0.75, _TOKEN.sub("…", line), fontsize=8, va="center", family="monospace")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def render(profile: str = "prod") -> bytes:
    templates = synthesize(profile)
    (service,) = [t for name, t in templates.items() if name.endswith("-service")]
    body, _ = dashboard_body(service)
    return draw(body, f"letta-{profile}: CloudWatch dashboard (layout drawn from the synthesized DashboardBody)")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="dashboard_png.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("dev", "prod"), default="prod")
    parser.add_argument("--out", type=Path, default=PNG)
    parser.add_argument("--check", action="store_true", help="exit 1 if the PNG is stale")
    args = parser.parse_args(argv)
    png = render(args.profile)
    if args.check:
        if not args.out.exists() or args.out.read_bytes() != png:
            print(f"{args.out} is stale: run scripts/dashboard_png.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_bytes(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
