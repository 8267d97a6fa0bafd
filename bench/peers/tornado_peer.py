"""Tornado 6 peer: GET /plaintext, /json, /gzip and /fortunes on 127.0.0.1:--port, one process.

The same responses as the Rust peers: Content-Type text/plain or application/json (no
charset), Content-Length, Date, and no Server header or ETag. The JSON is serialised per
request, compactly, so the body is the same 27 bytes. No access log.

/gzip is the same 16 KiB of text as Squall's examples/bench.rs serves (lorem() below builds
the same bytes as examples/common/mod.rs). With --gzip the application has
compress_response=True, at --gzip-level (default 2, Squall's default; Tornado's own is 6), so
both servers do the same compression work for a request with Accept-Encoding: gzip.

/fortunes is the template benchmark, the same page as examples/bench.rs's /fortunes
(TechEmpower's Fortunes without a database): twelve fortunes plus one added per request,
sorted by message, rendered by Tornado's template engine from templates/fortunes.html
(compiled once, as with debug off) with its autoescaping; no ETag. The page Squall renders
with minijinja from examples/templates/bench/fortunes.html, but for the apostrophe's escape
(Tornado 6.4+: &#x27;, Squall: &#39;): 1,228 bytes against 1,227.

usage: python tornado_peer.py --port N [--gzip [--gzip-level L]]
"""

import argparse
import asyncio
import json
import os

import tornado.httpserver
import tornado.web

PLAINTEXT = b"Hello, World!"

WORDS = [
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
    "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna",
    "aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco",
    "laboris", "nisi", "aliquip", "ex", "ea", "commodo", "consequat", "duis", "aute",
    "irure", "in", "reprehenderit", "voluptate", "velit", "esse", "cillum", "fugiat",
    "nulla", "pariatur", "excepteur", "sint", "occaecat", "cupidatat", "non", "proident",
    "sunt", "culpa", "qui", "officia", "deserunt", "mollit", "anim", "id", "est", "laborum",
    "integer", "vitae",
]


def lorem(n):
    """examples/common/mod.rs's lorem(n), byte for byte."""
    out = bytearray()
    x = 12345
    column = 0
    while len(out) < n:
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        word = WORDS[(x >> 16) % len(WORDS)]
        out += word.encode()
        column += len(word) + 1
        if column > 72:
            out += b"\n"
            column = 0
        else:
            out += b" "
    return bytes(out[:n])


LOREM = lorem(16 * 1024)


class BaseHandler(tornado.web.RequestHandler):
    def set_default_headers(self):
        self.clear_header("Server")

    def compute_etag(self):
        return None


class PlaintextHandler(BaseHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.finish(PLAINTEXT)


class JsonHandler(BaseHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        body = json.dumps({"message": "Hello, World!"}, separators=(",", ":"))
        self.finish(body.encode())


class GzipHandler(BaseHandler):
    def get(self):
        # The default Content-Type, text/html; charset=UTF-8, as Squall's /gzip.
        self.finish(LOREM)


# TechEmpower's fortunes (the benchmark's database table), kept in memory.
FORTUNES = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
]


class FortunesHandler(BaseHandler):
    def get(self):
        fortunes = [{"id": i, "message": m} for i, m in FORTUNES]
        fortunes.append({"id": 0, "message": "Additional fortune added at request time."})
        fortunes.sort(key=lambda f: f["message"])
        self.render("fortunes.html", fortunes=fortunes)


async def main(port, gzip_level):
    if gzip_level is not None:
        tornado.web.GZipContentEncoding.GZIP_LEVEL = gzip_level
    app = tornado.web.Application(
        [
            (r"/plaintext", PlaintextHandler),
            (r"/json", JsonHandler),
            (r"/gzip", GzipHandler),
            (r"/fortunes", FortunesHandler),
        ],
        template_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates"),
        log_function=lambda handler: None,
        compress_response=gzip_level is not None,
    )
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, address="127.0.0.1", backlog=4096)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--gzip-level", type=int, default=2)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.port, args.gzip_level if args.gzip else None))
    except KeyboardInterrupt:
        pass
