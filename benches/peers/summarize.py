#!/usr/bin/env python3
"""Markdown summary of a run.sh raw file (one JSON object a line).

usage: summarize.py raw-<stamp>.jsonl [--note TEXT]

Per layout: requests/s (median of the runs) per cell and client, with hcx / the best
other client; CPU µs per request; then, per cell, the median run's details. The median
run is the run with the median requests/s (of an even count, the upper of the middle
two), and every figure of a cell comes from it, so they agree; errors are summed over
all runs. Then the syscall counts (strace) and the idle-connection memory.
"""
import json
import statistics
import sys
from collections import defaultdict

CELL_ORDER = [
    "h1_seq_x1_small", "h1_seq_x1_16k", "h1_seq_x1_chunked", "h1_par_x4_small",
    "h1_par_x16_small", "h1_par_x16_small_c4", "h1_churn_connclose",
]
CLIENT_ORDER = ["hcx", "ureq", "reqwest", "hyper", "wrk"]


def order(items, preferred):
    return [x for x in preferred if x in items] + sorted(x for x in items if x not in preferred)


def fmt(value, digits=0):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def median_run(runs):
    """The run whose requests/s is the median (the upper one of an even count)."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    note = None
    if "--note" in args:
        i = args.index("--note")
        note = args[i + 1]
        del args[i:i + 2]
    lines = [json.loads(line) for line in open(args[0]) if line.strip()]
    loads = defaultdict(list)  # (layout, cell, client) -> runs
    for line in lines:
        if line.get("mode") == "load":
            loads[(line["layout"], line["cell"], line["client"])].append(line)

    out = ["# hcx peer comparison (on loopback; the server is in the note below)", ""]
    if note:
        out += [note, ""]
    layouts = order({k[0] for k in loads}, ["pinned", "free"])
    for layout in layouts:
        cells = order({k[1] for k in loads if k[0] == layout}, CELL_ORDER)
        clients = order({k[2] for k in loads if k[0] == layout}, CLIENT_ORDER)
        peers = [c for c in clients if c not in ("hcx", "wrk")]
        medians = {
            (cell, client): median_run(loads[(layout, cell, client)])
            for cell in cells for client in clients if loads.get((layout, cell, client))
        }
        rps = {key: run["rps"] for key, run in medians.items()}

        out += [f"## {layout}", "", "Requests/s (median of runs)", ""]
        out.append("| cell | " + " | ".join(clients) + " | hcx / best other |")
        out.append("|---" * (len(clients) + 2) + "|")
        for cell in cells:
            row = [fmt(rps.get((cell, c))) for c in clients]
            others = [rps[(cell, c)] for c in peers if (cell, c) in rps]
            ratio = (
                f"{rps[(cell, 'hcx')] / max(others):.2f}"
                if (cell, "hcx") in rps and others else "–"
            )
            out.append(f"| {cell} | " + " | ".join(row) + f" | {ratio} |")
        for cell in cells:
            if (cell, "hcx") in rps and (cell, "wrk") in rps:
                runs = len(loads[(layout, cell, "wrk")])
                out += ["", f"{cell}: hcx / wrk = {rps[(cell, 'hcx')] / rps[(cell, 'wrk')]:.3f}"
                        f" (medians; wrk: {runs} run{'s' if runs != 1 else ''})"]

        # On a shared machine the whole machine drifts between rounds; a round's
        # clients run back to back, so the ratio within a round is the paired figure.
        paired = []
        for cell in cells:
            for other in [c for c in clients if c != "hcx"]:
                by_run = {r["run"]: r for r in loads.get((layout, cell, other), [])}
                ratios = sorted(
                    h["rps"] / by_run[h["run"]]["rps"]
                    for h in loads.get((layout, cell, "hcx"), [])
                    if h["run"] in by_run and by_run[h["run"]]["rps"]
                )
                if len(ratios) >= 2:
                    paired.append(
                        f"| {cell} | hcx / {other} | {statistics.median(ratios):.2f} "
                        f"| {ratios[0]:.2f}–{ratios[-1]:.2f} | {len(ratios)} |")
        if paired:
            out += ["", "Requests/s ratios paired by round (median, range)", "",
                    "| cell | ratio | median | range | rounds |", "|---|---|---|---|---|"]
            out += paired

        out += ["", "Client CPU µs per request (user + sys, median run)", ""]
        cpu_clients = [c for c in clients if c != "wrk"]
        out.append("| cell | " + " | ".join(cpu_clients) + " | hcx / best other |")
        out.append("|---" * (len(cpu_clients) + 2) + "|")
        for cell in cells:
            cpu = {c: medians[(cell, c)]["cpu_us_per_req"]
                   for c in cpu_clients if (cell, c) in medians}
            others = [cpu[c] for c in peers if c in cpu]
            ratio = f"{cpu['hcx'] / min(others):.2f}" if "hcx" in cpu and others else "–"
            out.append(f"| {cell} | " + " | ".join(fmt(cpu.get(c), 1) for c in cpu_clients)
                       + f" | {ratio} |")

        out += ["", "Median run details", "",
                "| cell | client | rps | p50 µs | p99 µs | CPU µs/req | csw/req | allocs/req "
                "| accepted (run / measured) | errors (all runs) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for cell in cells:
            for client in clients:
                r = medians.get((cell, client))
                if not r:
                    continue
                accepted = f"{fmt(r.get('accepted_total'))} / {fmt(r.get('accepted_measured'))}"
                runs = loads[(layout, cell, client)]
                errors = fmt(sum(x.get("errors") or 0 for x in runs))
                first = next((x["first_error"] for x in runs if x.get("first_error")), None)
                if first:
                    errors += f" ({first[:60]})"
                out.append(
                    f"| {cell} | {client} | {fmt(r['rps'])} | {fmt(r.get('p50_us'), 1)} "
                    f"| {fmt(r.get('p99_us'), 1)} | {fmt(r.get('cpu_us_per_req'), 1)} "
                    f"| {fmt(r.get('csw_per_req'), 2)} | {fmt(r.get('allocs_per_req'), 1)} "
                    f"| {accepted} | {errors} |")
        out.append("")

    straces = [l for l in lines if l.get("mode") == "strace"]
    if straces:
        out += ["## Syscalls per request (strace -f -c, T=1, /small, pinned)", "",
                "| client | syscalls/req | requests | top calls per request |",
                "|---|---|---|---|"]
        for s in sorted(straces, key=lambda s: CLIENT_ORDER.index(s["client"])
                        if s["client"] in CLIENT_ORDER else 99):
            top = ", ".join(f"{k} {v}" for k, v in s["top"].items())
            out.append(f"| {s['client']} | {s['syscalls_per_req']:.2f} "
                       f"| {fmt(s['total_requests'])} | {top} |")
        out.append("")

    idles = [l for l in lines if l.get("mode") == "idle"]
    if idles:
        out += ["## Memory per idle pooled connection", "",
                "Growth of the resident set and of the live heap once the connections are "
                "idle in the pool, divided by the connections the server accepted.", "",
                "| body | client | connections wanted | accepted by the server | RSS bytes/conn "
                "| live heap bytes/conn | errors |",
                "|---|---|---|---|---|---|---|"]
        for i in idles:
            path = "/" + i["url"].split("/", 3)[-1]
            out.append(f"| {path} | {i['client']} | {i['idle_conns']} | {fmt(i['accepted'])} "
                       f"| {fmt(i.get('rss_per_accepted'))} | {fmt(i.get('heap_per_accepted'))} "
                       f"| {i['errors']} |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
