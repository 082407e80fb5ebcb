#!/usr/bin/env python3
"""Redoes docs/live.md's table: fervid analyze on live sources served on 127.0.0.1.

    python3 tools/live_table.py [--bin .build/release/fervid] [--sample samples/WolfgangLanger_Pexels.mp4]
                                [--sources hls,rtmp,http,udp,burst] [--seconds 20] [--size 1920x1080]
                                [--fast] [--old] [-- extra fervid analyze arguments]

Each source streams the sample in real time (the ffmpeg CLI with -re, or tools/live_server.py for
HLS files and bursts); fervid reads it until it ends (no reconnect). Prints one Markdown row per
source: frames read, dropped (thinned / over --max-lag), face ids, rows without a face, latency
p50/p95/max, sustained rate, and fervid's peak resident memory (VmHWM). Standard library only.
"""
import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port(udp=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port, udp=False):
    for table in (["udp", "udp6"] if udp else ["tcp", "tcp6"]):
        try:
            lines = open(f"/proc/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[1].endswith(":%04X" % port) and (udp or f[3] == "0A"):
                return True
    return False


def wait_for(cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def ffmpeg(*args, background=False):
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args]
    if background:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    subprocess.run(cmd, check=True)


def peak_rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def run_fervid(args, url, out, extra, after_start=None):
    cmd = [args.bin, "analyze", url, "-o", out, "--reconnect", "0", "--open-timeout", "60", "--read-timeout",
           "5" if url.startswith("udp:") else "20", *([] if args.old else ["--latency"]), "--stats", "--quiet", *extra]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if after_start:
        after_start()
    peak = 0
    while proc.poll() is None:
        peak = max(peak, peak_rss_kib(proc.pid) or 0)
        time.sleep(0.2)
    err = proc.stderr.read()
    if proc.returncode != 0:
        print(f"fervid failed on {url}: {err}", file=sys.stderr)
    return peak, err


def summarize(name, out, peak):
    rows = list(csv.DictReader(open(out)))
    side = json.load(open(out + ".json"))
    frames, live = side["frames"], side.get("live", {})
    ids = {r["face_id"] for r in rows if r["success"] == "1"}
    frame_rows = {}
    for r in rows:
        frame_rows.setdefault(r["frame"], []).append(r["success"] == "1")
    no_face = sum(1 for v in frame_rows.values() if not any(v))
    pct = lambda a, b: f"{100 * a / b:.1f} %" if b else "-"
    lat = "/".join(f"{live.get(k, float('nan')):.2f}" for k in ("latency_p50", "latency_p95", "latency_max"))
    return (f"| {name} | {frames['read']} | {frames['dropped']} ({pct(frames['dropped'], frames['read'])}; "
            f"{live.get('dropped_thinned', 0)} thinned, {live.get('dropped_stale', 0)} stale) | {len(ids)} | "
            f"{pct(no_face, len(frame_rows))} | {lat} | {live.get('sustained_fps', 0):.1f} of {live.get('stream_fps', 0):.1f} | "
            f"{live.get('lag_peak', 0):.2f} | {peak / 1024:.0f} MiB |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.path.join(ROOT, ".build/release/fervid"))
    p.add_argument("--sample", default=os.path.join(ROOT, "samples/WolfgangLanger_Pexels.mp4"))
    p.add_argument("--sources", default="hls,rtmp,http,udp,burst")
    p.add_argument("--seconds", type=float, default=20, help="stream length (the sample loops if longer)")
    p.add_argument("--size", default=None, help="scale the stream, e.g. 1920x1080")
    p.add_argument("--fast", action="store_true", help="MPEG-TS over HTTP without -re: as fast as fervid reads")
    p.add_argument("--old", action="store_true", help="the binary predates --latency (live columns stay empty)")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]
    work = tempfile.mkdtemp(prefix="fervid-live-")
    procs = []
    try:
        whole = os.path.join(work, "whole.mp4")
        vf = ["-vf", f"scale={args.size.replace('x', ':')}"] if args.size else []
        ffmpeg("-stream_loop", "-1", "-i", args.sample, "-t", str(args.seconds), "-an", *vf, "-c:v", "libx264",
               "-preset", "veryfast", "-pix_fmt", "yuv420p", "-force_key_frames", "expr:gte(t,n_forced*2)", whole)
        ffmpeg("-i", whole, "-c", "copy", "-f", "segment", "-segment_time", "2", "-segment_format", "mpegts",
               os.path.join(work, "seg%03d.ts"))
        print(f"stream: {args.seconds:g} s of {os.path.basename(args.sample)}{' at ' + args.size if args.size else ''}; "
              f"fervid analyze … {' '.join(extra)}")
        print("| source | frames read | dropped | face ids | frames with no face | latency p50/p95/max (s) | "
              "analyzed fps of stream fps | lag peak (s) | peak RSS |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in args.sources.split(","):
            out = os.path.join(work, f"{name}.csv")
            after = None
            if name == "hls":
                port = free_port()
                hls = os.path.join(work, "hls")
                os.mkdir(hls)
                procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "tools/live_server.py"), str(port), hls]))
                wait_for(lambda: listening(port), 30)
                procs.append(ffmpeg("-re", "-i", whole, "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
                                    "-hls_playlist_type", "event", "-hls_flags", "temp_file",
                                    os.path.join(hls, "live.m3u8"), background=True))
                wait_for(lambda: os.path.exists(os.path.join(hls, "live.m3u8")), 60)
                url = f"http://127.0.0.1:{port}/live.m3u8"
            elif name in ("rtmp", "http"):
                port = free_port()
                url = f"rtmp://127.0.0.1:{port}/live/stream" if name == "rtmp" else f"http://127.0.0.1:{port}/live.ts"
                re_ = [] if args.fast and name == "http" else ["-re"]
                procs.append(ffmpeg(*re_, "-i", whole, "-c", "copy", "-f", "flv" if name == "rtmp" else "mpegts",
                                    "-listen", "1", url, background=True))
                wait_for(lambda: listening(port), 60)
            elif name == "udp":
                port = free_port(udp=True)
                url = f"udp://127.0.0.1:{port}"

                def after():
                    wait_for(lambda: listening(port, udp=True), 120)
                    procs.append(ffmpeg("-re", "-i", whole, "-c", "copy", "-f", "mpegts",
                                        f"udp://127.0.0.1:{port}?pkt_size=1316", background=True))
            elif name == "burst":
                port = free_port()
                procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "tools/live_server.py"), str(port), work,
                                               "--burst", "2"]))
                wait_for(lambda: listening(port), 30)
                url = f"http://127.0.0.1:{port}/burst.ts"
            else:
                sys.exit(f"unknown source {name}")
            peak, _ = run_fervid(args, url, out, extra, after)
            print(summarize(name, out, peak), flush=True)
            for proc in procs:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            procs.clear()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
