#!/usr/bin/env python3
"""Compare organism-graph with NetworkX on a synthetic organisation.

Run by hand, not in CI (NetworkX's betweenness on 10,000 nodes takes a long
while in pure Python):

    python3 -m venv /tmp/nxenv && /tmp/nxenv/bin/pip install networkx
    /tmp/nxenv/bin/python crates/graph/bench/compare_networkx.py \
        [--employees 10000] [--interactions 300000] [--seed 7] [--workdir DIR]

It writes `directory.csv` and `interactions.csv` to the work directory,
runs `cargo run --release -p organism-graph --example snapshot` on them,
builds the same graph in NetworkX (same window, self-loops and unknown
employees dropped, unweighted), times NetworkX computing degree centrality,
betweenness centrality (normalised) and clustering, and prints both timings
and the largest absolute difference per metric.

The organisation: teams of 5 to 15 people, most interactions inside a team,
some with the neighbouring teams, a few anywhere; a sprinkling of
self-loops, unknown employees and out-of-window rows so the drop rules are
exercised too.
"""

import argparse
import csv
import datetime as dt
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import time

import networkx as nx

WINDOW_DAYS = 28
WINDOW_END = dt.datetime(2024, 3, 29, tzinfo=dt.timezone.utc)
REPO = pathlib.Path(__file__).resolve().parents[3]


def generate(employees: int, interactions: int, seed: int, workdir: pathlib.Path):
    rng = random.Random(seed)
    ids = [f"emp{i:06d}" for i in range(employees)]
    teams, team_of = [], {}
    i = 0
    while i < employees:
        size = rng.randint(5, 15)
        members = list(range(i, min(i + size, employees)))
        teams.append(members)
        for m in members:
            team_of[m] = len(teams) - 1
        i += size

    with open(workdir / "directory.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["employee_id", "team", "work_start_hour", "work_end_hour", "utc_offset_minutes"])
        for i, eid in enumerate(ids):
            start = rng.choice([7, 8, 9, 10])
            offset = rng.choice([-300, 0, 0, 60, 330, 540])
            w.writerow([eid, f"team{team_of[i]:04d}", start, start + 9, offset])

    start = WINDOW_END - dt.timedelta(days=WINDOW_DAYS)
    span = WINDOW_DAYS * 24 * 3600
    with open(workdir / "interactions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["from", "to", "time", "channel", "weight", "duration_minutes"])
        for _ in range(interactions):
            a = rng.randrange(employees)
            r = rng.random()
            if r < 0.75:
                b = rng.choice(teams[team_of[a]])
            elif r < 0.95:
                t = (team_of[a] + rng.choice([-2, -1, 1, 2])) % len(teams)
                b = rng.choice(teams[t])
            else:
                b = rng.randrange(employees)
            to = ids[b] if rng.random() > 0.001 else "contractor-x"
            when = start + dt.timedelta(seconds=rng.randrange(span))
            if rng.random() < 0.002:
                when -= dt.timedelta(days=WINDOW_DAYS)  # outside the window
            channel = rng.choices(["email", "chat", "meeting"], [0.4, 0.45, 0.15])[0]
            duration = rng.choice([15, 30, 30, 60]) if channel == "meeting" else 0
            weight = rng.choice([1, 1, 1, 0.5, 2])
            w.writerow([ids[a], to, when.strftime("%Y-%m-%dT%H:%M:%SZ"), channel, weight, duration])


def networkx_graph(workdir: pathlib.Path) -> nx.Graph:
    """The graph our builder makes: directory nodes, in-window edges, no self-loops."""
    graph = nx.Graph()
    with open(workdir / "directory.csv", newline="") as f:
        graph.add_nodes_from(row["employee_id"] for row in csv.DictReader(f))
    start = WINDOW_END - dt.timedelta(days=WINDOW_DAYS)
    with open(workdir / "interactions.csv", newline="") as f:
        for row in csv.DictReader(f):
            when = dt.datetime.strptime(row["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
            a, b = row["from"], row["to"]
            if start <= when < WINDOW_END and a != b and a in graph and b in graph:
                graph.add_edge(a, b)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=pathlib.Path)
    parser.add_argument("--skip-networkx-betweenness", action="store_true",
                        help="compare degree and clustering only (betweenness is the slow one)")
    args = parser.parse_args()
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="organism-graph-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    generate(args.employees, args.interactions, args.seed, workdir)
    print(f"generated {args.employees} employees, {args.interactions} interactions "
          f"in {workdir} ({time.perf_counter() - t:.1f} s)")

    out = workdir / "metrics.json"
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "organism-graph", "--example", "snapshot", "--",
           "--directory", str(workdir / "directory.csv"),
           "--interactions", str(workdir / "interactions.csv"),
           "--window-end", WINDOW_END.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "--window-days", str(WINDOW_DAYS), "--out", str(out)]
    subprocess.run(cmd, cwd=REPO, check=True)
    ours = json.loads(out.read_text())
    timings = ours["timings_seconds"]
    print(f"organism-graph: parse {timings['parse']:.3f} s, snapshot (graph + 3 metrics + burnout) "
          f"{timings['snapshot']:.3f} s on {ours['threads']} threads")
    print(f"  counts: {ours['snapshot']['counts']}")

    t = time.perf_counter()
    graph = networkx_graph(workdir)
    print(f"networkx: graph built in {time.perf_counter() - t:.1f} s "
          f"({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges)")
    reference = {}
    t = time.perf_counter()
    reference["degree_centrality"] = nx.degree_centrality(graph)
    print(f"networkx: degree_centrality {time.perf_counter() - t:.3f} s")
    t = time.perf_counter()
    reference["clustering_coeff"] = nx.clustering(graph)
    print(f"networkx: clustering {time.perf_counter() - t:.3f} s")
    if not args.skip_networkx_betweenness:
        t = time.perf_counter()
        reference["betweenness_centrality"] = nx.betweenness_centrality(graph)
        print(f"networkx: betweenness_centrality {time.perf_counter() - t:.1f} s")

    employees = {m["employee_id"]: m for m in ours["snapshot"]["employees"]}
    if set(employees) != set(graph.nodes()):
        sys.exit("node sets differ")
    worst = 0.0
    for metric, values in reference.items():
        diff = max((abs(employees[node][metric] - value) for node, value in values.items()), default=0.0)
        worst = max(worst, diff)
        print(f"largest |ours - networkx| for {metric}: {diff:.3e}")
    print(f"largest absolute difference overall: {worst:.3e}")
    sys.exit(0 if worst <= 1e-9 else 1)


if __name__ == "__main__":
    main()
