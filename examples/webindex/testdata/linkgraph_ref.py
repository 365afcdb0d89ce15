#!/usr/bin/python3
"""Independent link graph and PageRank of an HTML corpus, for the webindex tests.

usage: linkgraph_ref.py CORPUS.tar.gz BASE_URL

Reads every *.html member with Python's html.parser (not the Go extractor),
resolves <a href> against the page URL (or its <base href>) with urllib,
drops fragments, keeps links to pages of the corpus other than the page
itself, and ranks the graph with networkx.pagerank (all pages are nodes).
Prints "page<TAB>pagerank<TAB>out-links" lines sorted by page URL, where
out-links is the sorted, space-separated list of distinct linked pages.
Pages with <meta name=robots content=noindex> are left out, as the index
does.
"""
import sys
import tarfile
from html.parser import HTMLParser
from urllib.parse import urljoin, urldefrag

import networkx as nx


class Links(HTMLParser):
    def __init__(self, url):
        super().__init__(convert_charrefs=True)
        self.base = url
        self.hrefs = []
        self.noindex = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "base" and a.get("href") and not self.hrefs:
            self.base = urljoin(self.base, a["href"].strip())
        elif tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"].strip())
        elif tag == "meta" and (a.get("name") or "").lower() == "robots":
            if "noindex" in (a.get("content") or "").lower():
                self.noindex = True


def main():
    path, base = sys.argv[1], sys.argv[2]
    pages = {}
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            if not m.isfile() or not m.name.lower().endswith(".html"):
                continue
            url = urljoin(base, m.name)
            body = tf.extractfile(m).read().decode("utf-8", "replace")
            p = Links(url)
            p.feed(body)
            if p.noindex:
                continue
            links = set()
            for h in p.hrefs:
                if not h or h.startswith(("mailto:", "javascript:")):
                    continue
                u = urldefrag(urljoin(p.base, h))[0]
                links.add(u)
            pages[url] = links
    g = nx.DiGraph()
    g.add_nodes_from(pages)
    for u, links in pages.items():
        for v in links:
            if v in pages and v != u:
                g.add_edge(u, v)
    pr = nx.pagerank(g, alpha=0.85, tol=1e-12, max_iter=500)
    for u in sorted(pages):
        out = sorted(v for v in g.successors(u))
        print(f"{u}\t{pr[u]!r}\t{' '.join(out)}")


if __name__ == "__main__":
    main()
