"""Tornado 6 peer: GET /plaintext and GET /json on 127.0.0.1:--port, one process.

The same responses as the Rust peers: Content-Type text/plain or application/json (no
charset), Content-Length, Date, and no Server header or ETag. The JSON is serialised per
request, compactly, so the body is the same 27 bytes. No access log.

usage: python tornado_peer.py --port N
"""

import argparse
import asyncio
import json

import tornado.httpserver
import tornado.web

PLAINTEXT = b"Hello, World!"


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


async def main(port):
    app = tornado.web.Application(
        [(r"/plaintext", PlaintextHandler), (r"/json", JsonHandler)],
        log_function=lambda handler: None,
    )
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, address="127.0.0.1", backlog=4096)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.port))
    except KeyboardInterrupt:
        pass
