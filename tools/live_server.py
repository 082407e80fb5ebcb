#!/usr/bin/env python3
"""A small HTTP server on 127.0.0.1 for fervid's live-stream tests (standard library only).

    live_server.py PORT DIR                      serve the files of DIR (an HLS playlist that the
                                                 ffmpeg CLI keeps writing, its segments)
    live_server.py PORT DIR --burst SECONDS      also /burst.ts: the MPEG-TS segments
                                                 DIR/seg*.ts sent one whole segment at a time,
                                                 the first at once and then one every SECONDS
                                                 (a source whose frames arrive in bursts)

The tests start it with a free port and kill it by pid; it prints nothing.
"""
import functools
import http.server
import os
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    burst = None

    def log_message(self, *args):
        pass

    def end_headers(self):
        # A growing playlist must be read fresh on every reload.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self):
        if self.path.split("?")[0] != "/burst.ts" or self.burst is None:
            return super().do_GET()
        segments = sorted(f for f in os.listdir(self.directory) if f.startswith("seg") and f.endswith(".ts"))
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.send_header("Connection", "close")
        self.end_headers()
        start = time.monotonic()
        try:
            for k, name in enumerate(segments):
                delay = start + k * self.burst - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                with open(os.path.join(self.directory, name), "rb") as f:
                    self.wfile.write(f.read())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    port, directory = int(sys.argv[1]), sys.argv[2]
    if len(sys.argv) == 5:
        if sys.argv[3] != "--burst":
            sys.exit(__doc__)
        Handler.burst = float(sys.argv[4])
    handler = functools.partial(Handler, directory=directory)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
