#!/usr/bin/env python3
"""Compares approx against exact JSON Lines runs (see benches/approx.sh).

stdin: lines "NAME LINES BYTES MODE SECONDS MAXRSS_KB JSON_PATH", exact before
approx for each NAME. argv[1]: where to write the SVG chart of peak memory.
Prints a markdown report."""
import json
import sys


def load(path):
    return {w["start"]: w for w in map(json.loads, open(path))}


def accuracy(exact, approx):
    inter = listed_exact = listed_approx = 0
    busiest_same = busiest_windows = differ_open = 0
    distinct_ok = distinct_n = 0
    worst_distinct = 0.0
    missed = 0.0
    for start, e in exact.items():
        a = approx.get(start)
        if a is None:
            continue
        for q in ("to_host", "from_host"):
            es, as_ = set(e[q]["hosts"]), set(a[q]["hosts"])
            inter += len(es & as_)
            listed_exact += len(es)
            listed_approx += len(as_)
            missed = max(missed, a[q].get("missed_rate", 0.0))
        pairs = [(e[q]["distinct"], a[q]["distinct"]) for q in ("to_host", "from_host")]
        eb, ab = e["busiest_from_host"], a["busiest_from_host"]
        if eb and ab:
            pairs.append((eb["initiators"], ab["initiators"]))
            busiest_windows += 1
            busiest_same += eb["host"] == ab["host"]
            # A different leader is allowed only where the guarantee leaves it
            # open: the exact lead (at most the leader's count, 0 when tied)
            # does not exceed the stated error.
            lead = 0 if eb["tied"] else eb["connections"]
            differ_open += eb["host"] != ab["host"] and lead <= ab["error"]
        for ev, av in pairs:
            if ev >= 100:
                err = abs(av - ev) / ev
                worst_distinct = max(worst_distinct, err)
                distinct_ok += err <= 0.02
                distinct_n += 1
    return {
        "recall": inter / listed_exact if listed_exact else 1.0,
        "precision": inter / listed_approx if listed_approx else 1.0,
        "busiest": f"{busiest_same}/{busiest_windows}"
        + (f" (other {busiest_windows - busiest_same}: lead <= error in {differ_open})"
           if busiest_same < busiest_windows else ""),
        "distinct": f"{distinct_ok}/{distinct_n}" if distinct_n else "n/a",
        "worst_distinct": worst_distinct,
        "missed": missed,
        "windows": len(exact),
        "initiators": max((w["busiest_from_host"] or {}).get("initiators", 0) for w in exact.values()),
    }


def chart(points, path):
    """Peak RSS against distinct initiators per hour, log-log, both modes."""
    import math
    w, h, pad = 640, 360, 60
    xs = [p[0] for p in points]
    ys = [p[1] for p in points] + [p[2] for p in points]
    lx0, lx1 = math.log10(min(xs)) - 0.2, math.log10(max(xs)) + 0.2
    ly0, ly1 = math.log10(min(ys)) - 0.2, math.log10(max(ys)) + 0.2
    X = lambda v: pad + (math.log10(v) - lx0) / (lx1 - lx0) * (w - 2 * pad)
    Y = lambda v: h - pad - (math.log10(v) - ly0) / (ly1 - ly0) * (h - 2 * pad)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="20" text-anchor="middle" font-size="14">Peak RSS, hourly run with all three queries</text>',
           f'<line x1="{pad}" y1="{h-pad}" x2="{w-pad}" y2="{h-pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h-pad}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-15}" text-anchor="middle">distinct initiators in the busiest hour (log)</text>',
           f'<text x="15" y="{h/2}" transform="rotate(-90 15 {h/2})" text-anchor="middle">peak RSS, MiB (log)</text>']
    for e in range(math.ceil(lx0), math.floor(lx1) + 1):
        out.append(f'<text x="{X(10**e)}" y="{h-pad+16}" text-anchor="middle">1e{e}</text>')
    for e in range(math.ceil(ly0), math.floor(ly1) + 1):
        out.append(f'<text x="{pad-6}" y="{Y(10**e)+4}" text-anchor="end">{10**e}</text>')
    for idx, (name, colour) in enumerate((("exact", "#c0392b"), ("approx", "#2471a3"))):
        pts = [(X(p[0]), Y(p[1 + idx])) for p in points]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (colour, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)))
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts]
        out.append(f'<text x="{w-pad-80}" y="{pad+18*idx}" fill="{colour}">{name}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


rows, by = [], {}
for line in sys.stdin:
    name, lines, size, mode, secs, rss, path = line.split()
    by.setdefault(name, {})[mode] = (int(lines), int(size), float(secs), int(rss) // 1024, path)
points = []
print("| distinct hosts (scale) | lines | size | windows | max initiators/hour | exact s | approx s | approx/exact time | exact MiB | approx MiB | list recall | list precision | busiest = exact | distinct within 2 % | worst distinct error | max missed_rate |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for name, m in by.items():
    (lines, size, es, er, ep), (_, _, as_, ar, ap) = m["exact"], m["approx"]
    acc = accuracy(load(ep), load(ap))
    points.append((max(acc["initiators"], 1), er, ar))
    print(f"| {name} | {lines:,} | {size / 1e9:.2f} GB | {acc['windows']} | {acc['initiators']:,} | {es:.2f} | {as_:.2f} | {as_ / es:.2f} | {er} | {ar} | "
          f"{acc['recall']:.5f} | {acc['precision']:.5f} | {acc['busiest']} | {acc['distinct']} | {acc['worst_distinct']:.2%} | {acc['missed']:.1e} |")
chart(points, sys.argv[1])
