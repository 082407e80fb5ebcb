#!/usr/bin/env python3
"""What a stream of `fervid serve` costs: CPU seconds per second of stream and RSS.

Starts fervid-serve on loopback, N ffmpeg CLI servers each sending a clip of a sample at real
time over HTTP (MPEG-TS, `-c copy`), adds the N streams (`--fps` per stream), and samples the
server's CPU time (/proc/PID/stat) and RSS (/proc/PID/status) while they run. Prints one JSON
line per run. Standard library only.

    python3 tools/serve_cost.py --streams 1 8 32 --fps 5 --height 360 --seconds 20
    python3 tools/serve_cost.py --streams 1 --fps 5 --height 1080 --seconds 20
    python3 tools/serve_cost.py --streams 1 --fps 0 --height 360 --seconds 20    # every frame
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def wait_listening(port, timeout=30):
    """Until something listens on 127.0.0.1:port (from /proc/net/tcp: a test connection would
    take the one client an `ffmpeg -listen 1` server accepts)."""
    key = f":{port:04X}"
    end = time.time() + timeout
    while time.time() < end:
        for line in open("/proc/net/tcp").read().splitlines()[1:]:
            f = line.split()
            if f[1].endswith(key) and f[3] == "0A":
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def clip(sample, height, seconds, work):
    path = os.path.join(work, f"clip-{height}.ts")
    if height == 360:  # the sample is 640x360: sent as it is
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", sample, "-t", str(seconds), "-an", "-c:v", "copy", "-f", "mpegts", path]
    else:  # scaled (e.g. 1080p: 1920x1080), H.264 again
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", sample, "-t", str(seconds), "-an", "-vf", f"scale=-2:{height}",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-f", "mpegts", path]
    subprocess.run(cmd, check=True)
    return path


def run(binary, models, clip_path, streams, fps, seconds, work):
    out = os.path.join(work, f"out-{streams}")
    port_file = os.path.join(work, f"port-{streams}")
    log = open(os.path.join(work, f"server-{streams}.log"), "w")
    env = dict(os.environ, FERVID_MODELS=models)
    server = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--port-file", port_file, "--out", out,
                               "--max-streams", str(max(64, streams))], stdout=log, stderr=log, env=env)
    feeds = []
    try:
        for _ in range(600):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        base = f"http://127.0.0.1:{open(port_file).read().strip()}"
        for _ in range(600):
            try:
                api(base, "GET", "/readyz")
                break
            except Exception:
                time.sleep(0.1)
        rss_idle = rss_bytes(server.pid)
        ids = []
        for n in range(streams):
            port = free_port()
            # The clip again and again (the sample is 19.7 s): as long a stream as --seconds asks.
            feeds.append(subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip_path, "-c", "copy", "-f", "mpegts",
                                           "-listen", "1", f"http://127.0.0.1:{port}/live.ts"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            wait_listening(port)
            options = {"reconnect": 0}
            if fps > 0:
                options["fps"] = fps
            ids.append(api(base, "POST", "/streams", {"url": f"http://127.0.0.1:{port}/live.ts", "options": options})["id"])
        # Measure over the middle of the run: after every stream is live, before the clips end.
        # CPU seconds of the server process (user + system, all threads) per second of stream:
        # the streams arrive in real time, so one wall second is one second of each stream. On a
        # shared machine this is the steady figure (wall-clock fps is not); it holds while the
        # server keeps up (`dropped` 0, `live` = streams).
        time.sleep(3)
        before = {s["id"]: s for s in api(base, "GET", "/streams")["streams"]}
        c0, t0 = cpu_seconds(server.pid), time.time()
        peak = 0
        while time.time() - t0 < max(2.0, seconds - 8):
            peak = max(peak, rss_bytes(server.pid))
            time.sleep(0.5)
        c1, t1 = cpu_seconds(server.pid), time.time()
        state = api(base, "GET", "/streams")["streams"]
        analyzed = sum(s["framesAnalyzed"] - before.get(s["id"], {}).get("framesAnalyzed", 0) for s in state)
        read = sum(s["framesRead"] - before.get(s["id"], {}).get("framesRead", 0) for s in state)
        cpu = c1 - c0
        per_stream = cpu / (t1 - t0) / streams
        result = {
            "streams": streams, "fps": fps or "all", "clip": os.path.basename(clip_path),
            "window_s": round(t1 - t0, 1),
            "cpu_per_second": round(cpu / (t1 - t0), 3),
            "cpu_per_stream_second": round(per_stream, 4),
            "streams_per_core": round(1 / per_stream, 2) if per_stream > 0 else None,
            "cpu_ms_per_analyzed_frame": round(1000 * cpu / analyzed, 1) if analyzed else None,
            "frames_read": read, "frames_analyzed": analyzed,
            "rss_idle_mib": round(rss_idle / 2**20, 1), "rss_peak_mib": round(peak / 2**20, 1),
            "live": sum(1 for s in state if s["status"] == "live"),
            "dropped": sum(s["framesDropped"] for s in state),
            "latency_p95_max": max((s.get("latencyP95") or 0) for s in state),
            "load_average": os.getloadavg()[0],
        }
        print(json.dumps(result), flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        for f in feeds:
            f.kill()
            f.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--fps", type=float, default=5, help="frames analyzed per second of stream; 0: every frame")
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build/release/fervid-serve"))
    p.add_argument("--sample", default=os.path.join(ROOT, "samples/WolfgangLanger_Pexels.mp4"))
    p.add_argument("--models", default=os.path.join(ROOT, "models"))
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fervid-cost-") as work:
        path = clip(a.sample, a.height, min(a.seconds, 19), work)
        for n in a.streams:
            run(a.binary, a.models, path, n, a.fps, a.seconds, work)


if __name__ == "__main__":
    sys.exit(main())
