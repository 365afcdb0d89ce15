#!/usr/bin/python3
"""Reference results for the graph jobs' tests, computed with networkx.

usage: networkx_ref.py pagerank|components|sssp EDGES [ARGS...]

Edges are the jobs' input format: src<TAB>dst[<TAB>weight] lines, '#' lines
and blank lines skipped. IDs are kept as strings. Output: vertex<TAB>value
lines, sorted by vertex.
"""
import sys

import networkx as nx


def read(path, weighted):
    g = nx.DiGraph()
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if weighted:
                u, v, w = fields[0], fields[1], float(fields[2])
                if g.has_edge(u, v):
                    w = min(w, g[u][v]["weight"])
                g.add_edge(u, v, weight=w)
            else:
                g.add_edge(fields[0], fields[1])
    return g


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "pagerank":
        alpha, tol, max_iter = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        res = nx.pagerank(read(path, False), alpha=alpha, tol=tol, max_iter=max_iter)
        out = {k: repr(v) for k, v in res.items()}
    elif what == "components":
        g = read(path, False)
        out = {}
        for comp in nx.weakly_connected_components(g):
            label = min(comp)
            for v in comp:
                out[v] = label
    elif what == "sssp":
        g = read(path, True)
        res = nx.single_source_dijkstra_path_length(g, sys.argv[3], weight="weight")
        out = {k: repr(float(v)) for k, v in res.items()}
    else:
        sys.exit("unknown computation " + what)
    for k in sorted(out):
        print(f"{k}\t{out[k]}")


if __name__ == "__main__":
    main()
