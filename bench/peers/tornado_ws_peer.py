"""Tornado 6 WebSocket peer: an echo WebSocketHandler at /ws on 127.0.0.1:--port, one
process. Text and binary messages come back as they came. With --compress the handler offers
permessage-deflate (get_compression_options returns {}), for the compressed scenarios.

usage: python tornado_ws_peer.py --port N [--compress]
"""

import argparse
import asyncio

import tornado.web
import tornado.websocket


class Echo(tornado.websocket.WebSocketHandler):
    compress = False

    def get_compression_options(self):
        return {} if self.compress else None

    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


async def main(port, compress):
    Echo.compress = compress
    app = tornado.web.Application([(r"/ws", Echo)], log_function=lambda handler: None)
    app.listen(port, address="127.0.0.1", backlog=4096)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--compress", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.compress))
