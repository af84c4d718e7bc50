#!/usr/bin/env python3
"""The table and chart of benches/cardinality.sh.

stdin: lines "POINT QUERY MODE SECONDS MIB OUTPUT_PATH" (QUERY busiest, hourly or
hourly_top; MODE exact, approx or duckdb). argv[1]: where to write the SVG.
Prints a markdown table."""
import json
import math
import sys

SERIES = (("exact", "#c0392b"), ("approx", "#2471a3"), ("duckdb", "#7d8c2f"))


def leader(mode, path):
    """(host, connections) of a busiest-overall output."""
    if mode == "duckdb":
        host, n = open(path).read().split("\t")
        return host, int(n)
    b = json.loads(open(path).readline())["busiest_from_host"]
    return b["host"], b["connections"]


def panel(out, x0, title, ylabel, points, value, w=440, h=360, pad=60):
    """One log-log panel at x offset x0: value(point, mode) against distinct initiators."""
    xs = [p["distinct"] for p in points]
    ys = [value(p, m) for p in points for m, _ in SERIES]
    lx0, lx1 = math.log10(min(xs)) - 0.2, math.log10(max(xs)) + 0.2
    ly0, ly1 = math.log10(min(ys)) - 0.2, math.log10(max(ys)) + 0.2
    X = lambda v: x0 + pad + (math.log10(v) - lx0) / (lx1 - lx0) * (w - 2 * pad)
    Y = lambda v: h - pad - (math.log10(v) - ly0) / (ly1 - ly0) * (h - 2 * pad)
    out += [f'<text x="{x0 + w / 2}" y="24" text-anchor="middle" font-size="14">{title}</text>',
            f'<line x1="{x0 + pad}" y1="{h - pad}" x2="{x0 + w - pad}" y2="{h - pad}" stroke="black"/>',
            f'<line x1="{x0 + pad}" y1="{pad}" x2="{x0 + pad}" y2="{h - pad}" stroke="black"/>',
            f'<text x="{x0 + w / 2}" y="{h - 15}" text-anchor="middle">distinct initiators (log)</text>',
            f'<text x="{x0 + 15}" y="{h / 2}" transform="rotate(-90 {x0 + 15} {h / 2})" '
            f'text-anchor="middle">{ylabel} (log)</text>']
    for e in range(math.ceil(lx0), math.floor(lx1) + 1):
        out.append(f'<text x="{X(10 ** e):.1f}" y="{h - pad + 16}" text-anchor="middle">1e{e}</text>')
    ticks = [t for e in range(math.floor(ly0), math.ceil(ly1) + 1) for t in (10 ** e, 3 * 10 ** e)
             if ly0 <= math.log10(t) <= ly1]
    for t in ticks:
        out.append(f'<text x="{x0 + pad - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    for i, (mode, colour) in enumerate(SERIES):
        pts = [(X(p["distinct"]), Y(value(p, mode))) for p in points]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (colour, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)))
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts]
        label = {"duckdb": "DuckDB GROUP BY", "approx": "connspy --approx"}.get(mode, "connspy exact")
        out.append(f'<text x="{x0 + pad + 10}" y="{pad + 4 + 16 * i}" fill="{colour}">{label}</text>')


def main():
    runs = {}
    for line in sys.stdin:
        point, query, mode, secs, mib, path = line.split()
        runs.setdefault(point, {})[(query, mode)] = (float(secs), int(mib), path)
    points = []
    print("| distinct initiators | busiest: exact | --approx | DuckDB | exact / DuckDB | approx / exact "
          "| same leader | hourly: exact | --approx | hourly + receivers top 10: exact | --approx "
          "| + receivers / hourly (exact) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    cell = lambda r: f"{r[0]:.2f} s, {r[1]} MiB"
    for point, r in runs.items():
        exact = json.loads(open(r[("busiest", "exact")][2]).readline())
        distinct = exact["busiest_from_host"]["initiators"]
        leaders = {m: leader(m, r[("busiest", m)][2]) for m in ("exact", "approx", "duckdb")}
        same = ("yes" if leaders["exact"] == leaders["duckdb"] else "NO (DuckDB)") + (
            "" if leaders["approx"][0] == leaders["exact"][0] else ", approx differs")
        e, a, d = (r[("busiest", m)] for m in ("exact", "approx", "duckdb"))
        he, ha = r[("hourly", "exact")], r[("hourly", "approx")]
        te, ta = r[("hourly_top", "exact")], r[("hourly_top", "approx")]
        print(f"| {distinct:,} ({point}) | {cell(e)} | {cell(a)} | {cell(d)} | {e[0] / d[0]:.2f}x "
              f"| {a[0] / e[0]:.2f}x | {same} | {cell(he)} | {cell(ha)} | {cell(te)} | {cell(ta)} "
              f"| {te[0] / he[0]:.2f}x |")
        points.append({"distinct": distinct, "secs": {m: x[0] for m, x in zip(("exact", "approx", "duckdb"), (e, a, d))},
                       "mib": {m: x[1] for m, x in zip(("exact", "approx", "duckdb"), (e, a, d))}})
    points.sort(key=lambda p: p["distinct"])
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="880" height="360" '
           'font-family="sans-serif" font-size="12">', '<rect width="880" height="360" fill="white"/>']
    panel(out, 0, "Busiest initiator: wall time", "seconds", points, lambda p, m: p["secs"][m])
    panel(out, 440, "Busiest initiator: peak RSS", "MiB", points, lambda p, m: max(p["mib"][m], 1))
    out.append("</svg>")
    open(sys.argv[1], "w").write("\n".join(out) + "\n")


main()
