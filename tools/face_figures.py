#!/usr/bin/env python3
"""Figures of docs/faces.md: how well `fervid analyze --faces detect` finds faces at sparse
sampling rates, across hard cuts and in sideways-stored (rotated) video.

    python3 tools/face_figures.py [--fervid .build/release/fervid] [--samples samples] [--work /tmp/ff]

Builds the test videos from the samples with the ffmpeg CLI (the same constructions as
Tests/CLITests/FacesCLITests.swift), runs the given fervid binary and prints Markdown tables.
The oracle is construction: WolfgangLanger_Pexels.mp4 shows one person in every frame,
no_face.mp4 nobody; a rotated copy is compared with the analysis of its upright original.
Works with older binaries too (no `box` column, `--detect-every` instead of `--detect-interval`).
"""
import argparse
import csv
import json
import os
import subprocess
import sys


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def analyze(fervid, video, extra, out):
    r = subprocess.run([fervid, "analyze", video, "-o", out, "--quiet", "--stats", *extra],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"fervid analyze {video} {extra}: {r.stderr}")
    stats = next((l for l in r.stderr.splitlines() if l.startswith("stats ")), "")
    fields = dict(kv.split("=", 1) for kv in stats.split()[1:] if "=" in kv)
    with open(out, newline="") as f:
        return list(csv.DictReader(f)), fields


def iou(a, b):
    ax, ay, aw, ah = (float(a[k]) for k in "xywh")
    bx, by, bw, bh = (float(b[k]) for k in "xywh")
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / (aw * ah + bw * bh - iw * ih)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fervid", default=".build/release/fervid")
    p.add_argument("--samples", default="samples")
    p.add_argument("--work", default="/tmp/fervid-face-figures")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    face = os.path.join(a.samples, "WolfgangLanger_Pexels.mp4")
    empty = os.path.join(a.samples, "no_face.mp4")
    out = os.path.join(a.work, "t.csv")

    print("### Sparse sampling: WolfgangLanger_Pexels.mp4 (one person in all 472 frames)\n")
    print("| options | rows | rows with the face | ids | frames/s (--stats) |")
    print("| --- | --- | --- | --- | --- |")
    for opts in [[], ["--fps", "5"], ["--fps", "2"], ["--fps", "1"]]:
        rows, st = analyze(a.fervid, face, opts, out)
        found = sum(r["success"] == "1" for r in rows)
        ids = len({r["face_id"] for r in rows if r["success"] == "1"})
        print(f"| {' '.join(opts) or 'full rate'} | {len(rows)} | {found} ({100 * found / len(rows):.0f} %) | {ids} | {st.get('fps', '?')} |")

    print("\n### Hard cuts: 3 s face, 2 s empty, 3 s face, 2 s empty at 24 fps (240 frames)\n")
    cuts = os.path.join(a.work, "cuts.mp4")
    scene = "setpts=PTS-STARTPTS,scale=640:360,setsar=1,fps=24,format=yuv420p"
    ffmpeg("-i", face, "-i", empty, "-filter_complex",
           f"[0:v]trim=0:3,{scene}[a];[1:v]trim=0:2,{scene}[b];[0:v]trim=5:8,{scene}[c];[1:v]trim=1:3,{scene}[d];"
           "[a][b][c][d]concat=n=4:v=1:a=0[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", cuts)
    has_face = lambda f: f < 72 or 120 <= f < 192
    print("| options | rows claiming a face in an empty scene | face frames without a face row (of 144) | ids per face segment |")
    print("| --- | --- | --- | --- |")
    for opts in [[], ["--fps", "5"]]:
        rows, _ = analyze(a.fervid, cuts, opts, out)
        claimed = [int(r["frame"]) for r in rows if r["success"] == "1" and not has_face(int(r["frame"]))]
        missed = [int(r["frame"]) for r in rows if r["success"] != "1" and has_face(int(r["frame"]))]
        seg = [len({r["face_id"] for r in rows if r["success"] == "1" and (int(r["frame"]) < 120) == first})
               for first in (True, False)]
        print(f"| {' '.join(opts) or 'full rate'} | {len(claimed)} {claimed[:8]} | {len(missed)} | {seg[0]}, {seg[1]} |")

    print("\n### Sideways-stored copies (display matrix) of the whole sample against the upright analysis\n")
    up = os.path.join(a.work, "up.mp4")
    ffmpeg("-i", face, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", up)
    ref, _ = analyze(a.fervid, up, [], out)
    print("| stored turned by | rows with a face | boxes with IoU ≥ 0.8 vs upright (mean IoU) | labels agree |")
    print("| --- | --- | --- | --- |")
    for deg, vf in [(90, "transpose=clock"), (180, "hflip,vflip"), (270, "transpose=cclock")]:
        stored, tagged = os.path.join(a.work, f"s{deg}.mp4"), os.path.join(a.work, f"r{deg}.mp4")
        ffmpeg("-i", up, "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", stored)
        ffmpeg("-i", stored, "-c", "copy", "-metadata:s:v:0", f"rotate={deg}", tagged)
        rows, _ = analyze(a.fervid, tagged, [], out)
        faces = sum(r["success"] == "1" for r in rows)
        # Boxes compared only where both are in the same (display) frame size.
        pairs = [(x, y) for x, y in zip(ref, rows) if x["success"] == "1" and y["success"] == "1"]
        ious = [iou(x, y) for x, y in pairs] if deg == 180 or rows and "box" in rows[0] else []
        good = sum(v >= 0.8 for v in ious)
        mean = sum(ious) / len(ious) if ious else 0
        agree = sum(x["label"] == y["label"] for x, y in zip(ref, rows))
        print(f"| {deg}° clockwise | {faces} of {len(rows)} | {good} of {len(ref)} ({mean:.3f}) | {agree} of {len(ref)} |")


if __name__ == "__main__":
    main()
