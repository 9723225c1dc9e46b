"""Printing the figures as ratios of their ceilings; saving JSON and an SVG bar chart."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def ratio_lines(figures: dict[str, Any]) -> list[tuple[str, float | None, str, float | None]]:
    """(figure, value, ceiling name, ratio) for every pipeline figure."""
    out = []
    for name, (value, ceiling) in figures["ratios"].items():
        cap = figures["ceilings"].get(ceiling)
        out.append((name, value, ceiling, value / cap if value and cap else None))
    return out


def text(figures: dict[str, Any]) -> str:
    lines = ["ceilings (events/s):"]
    lines += [f"  {k:<26} {v:>10,.0f}" for k, v in figures["ceilings"].items()]
    lines.append("pipeline (events/s) as a ratio of its ceiling:")
    for name, value, ceiling, ratio in ratio_lines(figures):
        shown = "—" if value is None else f"{value:,.0f}"
        pct = "—" if ratio is None else f"{ratio:.0%}"
        lines.append(f"  {name:<26} {shown:>10}  {pct:>5} of {ceiling}")
    lat = figures["latency"]
    lines.append(f"POST→visible at {lat['offered']:,} events/s offered ({lat['achieved']:,.0f} "
                 f"achieved): median {_ms(lat['median_s'])}, p99 {_ms(lat['p99_s'])}, "
                 f"max {_ms(lat['max_s'])} over {lat['events']:,} events")
    for point in figures.get("sweep", []):
        lines.append(f"  offered {point['offered']:>6,}/s ({point['per_post']} a request): "
                     f"achieved {point['achieved']:>7,.0f}/s, POST→visible median "
                     f"{_ms(point['median_s'])}, p99 {_ms(point['p99_s'])}; client CPU "
                     f"{point['client_cpu_share']:.0%} of a core")
    lines.append("peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}"
                                                 for k, v in figures["peak_rss_mib"].items()))
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f} ms"


def save(figures: dict[str, Any], stamp: str) -> list[Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    body = json.dumps(figures, indent=2, sort_keys=True)
    paths = [RESULTS / f"{stamp}.json", RESULTS / "latest.json"]
    for path in paths:
        path.write_text(body + "\n")
    baseline = RESULTS / "baseline.json"
    before = json.loads(baseline.read_text()) if baseline.exists() else None
    svg = RESULTS / "latest.svg"
    svg.write_text(chart(figures, before))
    saved = [*paths, svg]
    if figures.get("sweep"):
        load = RESULTS / "latest_load.svg"
        load.write_text(load_chart(figures))
        saved.append(load)
    return saved


def load_chart(figures: dict[str, Any]) -> str:
    """Achieved against offered events/s (with the diagonal where they are equal), and the
    POST→visible p99 at each offered load on the right-hand axis."""
    points = figures["sweep"]
    width, height, left, bottom, right = 720, 420, 70, 50, 80
    top_rate = max(max(p["offered"], p["achieved"]) for p in points) or 1
    top_ms = max((p["p99_s"] or 0) * 1000 for p in points) or 1

    def x(rate: float) -> float:
        return left + rate / top_rate * (width - left - right)

    def y(value: float, top: float) -> float:
        return height - bottom - value / top * (height - bottom - 30)

    achieved = " ".join(f"{x(p['offered']):.0f},{y(p['achieved'], top_rate):.0f}"
                        for p in points)
    p99 = " ".join(f"{x(p['offered']):.0f},{y((p['p99_s'] or 0) * 1000, top_ms):.0f}"
                   for p in points)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              'font-family="sans-serif" font-size="12">'),
             (f'<text x="10" y="18" font-size="14">Throughput against offered load '
              f'({points[0]["per_post"]} event a request; {figures["when"]})</text>'),
             (f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
              f'y2="{height - bottom}" stroke="black"/>'),
             (f'<line x1="{x(0):.0f}" y1="{y(0, top_rate):.0f}" x2="{x(top_rate):.0f}" '
              f'y2="{y(top_rate, top_rate):.0f}" stroke="#bbb" stroke-dasharray="4"/>'),
             f'<polyline fill="none" stroke="#2e86c1" stroke-width="2" points="{achieved}"/>',
             f'<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{p99}"/>',
             f'<text x="{left}" y="{height - 12}">offered events/s →</text>',
             f'<text x="4" y="{y(top_rate, top_rate) + 4:.0f}">{top_rate:,.0f}/s</text>',
             (f'<text x="{width - right + 6}" y="{y(top_ms, top_ms) + 4:.0f}" '
              f'fill="#c0392b">{top_ms:,.0f} ms</text>'),
             f'<text x="{left + 10}" y="40" fill="#2e86c1">achieved events/s</text>',
             f'<text x="{left + 10}" y="56" fill="#c0392b">POST→visible p99 (right axis)</text>']
    for p in points:
        parts.append(f'<text x="{x(p["offered"]):.0f}" y="{height - bottom + 16}" '
                     f'text-anchor="middle">{p["offered"]:,}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def chart(figures: dict[str, Any], before: dict[str, Any] | None) -> str:
    """Horizontal bars: each ceiling, then each pipeline figure (and its baseline, if any)."""
    bars: list[tuple[str, float, str]] = [(k, v, "#9aa5b1")
                                          for k, v in figures["ceilings"].items()]
    for name, value, _, ratio in ratio_lines(figures):
        if before and (old := before["ratios"].get(name, [None])[0]):
            bars.append((f"{name} (before)", old, "#f0b27a"))
        label = f"{name} ({ratio:.0%})" if ratio else name
        bars.append((label, value or 0, "#2e86c1"))
    top = max(v for _, v, _ in bars) or 1
    width, left, row = 900, 300, 22
    height = 60 + row * len(bars)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">'),
             (f'<text x="10" y="20" font-size="14">Saylau Watch pipeline vs raw ceilings, '
             f'events/s ({figures["when"]}, {figures["cores"]} cores, shared)</text>')]
    for i, (label, value, colour) in enumerate(bars):
        y = 40 + i * row
        w = (width - left - 90) * value / top
        parts += [f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{_esc(label)}</text>',
                  (f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
                  f'fill="{colour}"/>'),
                  f'<text x="{left + w + 4:.1f}" y="{y + 14}">{value:,.0f}</text>']
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
