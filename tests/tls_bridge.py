#!/usr/bin/env python3
"""A real TLS client for Squall's tests: Python's ssl (OpenSSL) as a plaintext-to-TLS bridge.

It listens on 127.0.0.1 (prints "PORT n" first); every connection accepted there gets a TLS
connection of its own to --connect, and bytes are relayed both ways, half-closes included. The
tests then speak exact HTTP bytes over a plain socket, and OpenSSL does the TLS.

One JSON line per event on stdout:
  {"conn": n, "version": ..., "alpn": ..., "cipher": ..., "san": [...]}  handshake done
  {"conn": n, "error": "..."}                                            handshake failed
  {"conn": n, "closed": "close_notify" | "eof" | "alert: ..."}           the server's end

--eof says how the bridge ends its side when the local client half-closes: "abrupt" (TCP
FIN, no close_notify: what many clients do) or "notify" (close_notify, then FIN).
It exits when its standard input closes (the test dropped it), so it never outlives a test.
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading

OUT_LOCK = threading.Lock()


def report(event):
    with OUT_LOCK:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if args.ca:
        ctx.load_verify_locations(args.ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(","))
    if args.tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif args.tls == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def serve(n, local, ctx, args):
    host, port = args.connect.rsplit(":", 1)
    remote = socket.create_connection((host, int(port)), timeout=30)
    remote.settimeout(None)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=args.sni or host)
    lock = threading.Lock()
    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                remote.sendall(outgoing.read())
                data = remote.recv(65536)
                if not data:
                    raise ConnectionError("the server closed during the handshake")
                incoming.write(data)
        remote.sendall(outgoing.read())
    except Exception as e:  # noqa: BLE001 - every failure is reported to the test
        report({"conn": n, "error": str(e)})
        local.close()
        remote.close()
        return
    cert = obj.getpeercert() or {}
    san = [v for (k, v) in cert.get("subjectAltName", ())]
    report({"conn": n, "version": obj.version(), "alpn": obj.selected_alpn_protocol(),
            "cipher": obj.cipher()[0], "san": san})

    def up():
        try:
            while True:
                data = local.recv(65536)
                if not data:
                    break
                with lock:
                    obj.write(data)
                    pending = outgoing.read()
                remote.sendall(pending)
            if args.eof == "notify":
                with lock:
                    try:
                        obj.unwrap()
                    except (ssl.SSLWantReadError, ssl.SSLError):
                        pass
                    pending = outgoing.read()
                remote.sendall(pending)
            remote.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def down():
        how = "eof"
        try:
            while True:
                data = remote.recv(65536)
                if not data:
                    break
                chunks, done = [], False
                with lock:
                    incoming.write(data)
                    while True:
                        try:
                            d = obj.read(65536)
                        except ssl.SSLWantReadError:
                            break
                        except ssl.SSLZeroReturnError:
                            done = True
                            break
                        if not d:
                            done = True
                            break
                        chunks.append(d)
                    pending = outgoing.read()
                if pending:
                    remote.sendall(pending)
                if chunks:
                    local.sendall(b"".join(chunks))
                if done:
                    how = "close_notify"
                    break
        except ssl.SSLError as e:
            how = "alert: " + str(e)
        except OSError as e:
            how = "error: " + str(e)
        report({"conn": n, "closed": how})
        try:
            local.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t_up = threading.Thread(target=up, daemon=True)
    t_down = threading.Thread(target=down, daemon=True)
    t_up.start()
    t_down.start()
    t_up.join()
    t_down.join()
    local.close()
    remote.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True, help="host:port of the TLS server")
    ap.add_argument("--ca", help="CA file to verify with (none: no verification)")
    ap.add_argument("--sni", help="server name to ask for and verify (default: the host)")
    ap.add_argument("--alpn", default="http/1.1", help="comma-separated; empty: no ALPN")
    ap.add_argument("--eof", choices=["abrupt", "notify"], default="abrupt")
    ap.add_argument("--tls", choices=["any", "1.2", "1.3"], default="any")
    args = ap.parse_args()
    ctx = context(args)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("PORT %d" % listener.getsockname()[1], flush=True)

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    n = 0
    while True:
        local, _ = listener.accept()
        n += 1
        threading.Thread(target=serve, args=(n, local, ctx, args), daemon=True).start()


if __name__ == "__main__":
    main()
