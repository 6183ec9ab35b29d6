"""The takedown report as one printable HTML document: the figures as tables and, per client,
bars of the share of hits acted on within 1 h, 12 h, 24 h and the deadline, drawn as inline
SVG. Nothing is fetched and no script runs: the file can be mailed, archived and printed.

Renders what `admin.takedown.report` returns; reads nothing itself. The console's report page
shows the same tables and bars (`figures_table`, `bars`, `notices_table`: escaped HTML).
"""

from __future__ import annotations

from html import escape
from typing import Any

WINDOWS = (("1h", "1 h"), ("12h", "12 h"), ("24h", "24 h"), ("deadline", "deadline"))
_BAR_WIDTH = 240
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #111; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border-bottom: 1px solid #ccc; padding: .3rem .5rem; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.bars text { font-size: 12px; } .note { color: #444; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
  table, svg { break-inside: avoid; } }
"""


def render(report: dict[str, Any]) -> str:
    """The whole document for one month's report."""
    month = escape(str(report["month"]))
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Takedown report {month}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Takedown report, {month}</h1>",
        f'<p class="note">The clock runs {escape(str(report["clock"]))}. Deadline: '
        f"{int(report['deadline_hours'])} hours unless a client's agreement says otherwise."
        + (" Client names are left out." if _anonymous(report) else "")
        + "</p>",
        "<h2>All clients</h2>",
        figures_table([("all clients", report["overall"])]),
        bars([("all clients", report["overall"])]),
    ]
    clients = [(str(c["client"]), c) for c in report["clients"]]
    if clients:
        parts += [
            "<h2>Per client</h2>",
            figures_table(clients),
            "<h2>Share acted on in time, per client</h2>",
            bars(clients),
            "<h2>Notices</h2>",
            notices_table([("all clients", report["overall"]), *clients]),
        ]
    else:
        parts.append("<p>No hit this month.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _anonymous(report: dict[str, Any]) -> bool:
    return bool(report.get("publishable")) and not any("name" in c for c in report["clients"])


def _percent(value: object) -> str:
    return "–" if value is None else f"{float(str(value)) * 100:.1f}%"


def _hours(value: object) -> str:
    return "–" if value is None else f"{float(str(value)):.1f} h"


def figures_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    head = (
        "<tr><th scope='col'>Client</th><th scope='col' class='n'>Hits</th>"
        + "".join(f"<th scope='col' class='n'>Within {label}</th>" for _, label in WINDOWS)
        + "<th scope='col' class='n'>Median</th><th scope='col' class='n'>90th pct.</th>"
        "<th scope='col' class='n'>Overdue</th><th scope='col' class='n'>Re-appeared</th></tr>"
    )
    body = []
    for name, figures in rows:
        within = figures["acted_within"]
        body.append(
            f"<tr><th scope='row'>{escape(name)}</th><td class='n'>{int(figures['hits']):,}</td>"
            + "".join(f"<td class='n'>{_percent(within[key])}</td>" for key, _ in WINDOWS)
            + f"<td class='n'>{_hours(figures['median_hours_to_action'])}</td>"
            f"<td class='n'>{_hours(figures['p90_hours_to_action'])}</td>"
            f"<td class='n'>{int(figures['overdue']):,}</td>"
            f"<td class='n'>{int(figures['reappeared']):,}</td></tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def notices_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    keys = (
        ("issued", "Issued"),
        ("removed_in_time", "Removed in time"),
        ("removed_late", "Removed late"),
        ("open", "Open"),
        ("overdue", "Of which overdue"),
        ("withdrawn", "Withdrawn"),
    )
    head = "<tr><th scope='col'>Client</th>" + "".join(
        f"<th scope='col' class='n'>{label}</th>" for _, label in keys
    )
    body = [
        f"<tr><th scope='row'>{escape(name)}</th>"
        + "".join(f"<td class='n'>{int(figures['notices'][key]):,}</td>" for key, _ in keys)
        + "</tr>"
        for name, figures in rows
    ]
    return f"<table><thead>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bars(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Per row, one bar per window: its length is the share acted on within it."""
    line = 18
    height = len(rows) * (len(WINDOWS) * line + 14) + 4
    width = 200 + _BAR_WIDTH + 70
    shapes = []
    y = 4
    for name, figures in rows:
        shapes.append(f'<text x="0" y="{y + 12}" font-weight="bold">{escape(name[:28])}</text>')
        for key, label in WINDOWS:
            share = figures["acted_within"][key]
            length = 0.0 if share is None else float(share) * _BAR_WIDTH
            title = f"{name}: {_percent(share)} acted on within {label}"
            shapes.append(f'<text x="120" y="{y + 12}">{label}</text>')
            # The whole scale behind each bar, so that none (0%) still reads as a bar.
            shapes.append(
                f'<rect x="200" y="{y + 2}" width="{_BAR_WIDTH}" height="{line - 6}" '
                'fill="#e2e8f0"/>'
            )
            shapes.append(
                f'<rect x="200" y="{y + 2}" width="{length:.1f}" height="{line - 6}" '
                f'fill="#2b6cb0"><title>{escape(title)}</title></rect>'
            )
            shapes.append(f'<text x="{206 + _BAR_WIDTH}" y="{y + 12}">{_percent(share)}</text>')
            y += line
        y += 14
    return (
        f'<svg class="bars" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Share of hits acted on in time">'
        + "".join(shapes)
        + "</svg>"
    )
