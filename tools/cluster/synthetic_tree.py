#!/usr/bin/env python3
"""A synthetic corpus output tree for measuring `fervid collect` and `--resume` at scale.

    synthetic_tree.py TIMELINE OUT N [--inputs IN --video VIDEO]

Copies one real timeline and its sidecar (TIMELINE, TIMELINE.json, from `fervid analyze`) N
times into OUT/siteNN/dayNN/sessionNNNNN.emotions.csv(.json), 100 folders, each sidecar naming
its own input. With --inputs, also makes IN/<same tree>.mp4 as links to VIDEO and IN.txt, a
manifest of them, and stamps each sidecar with the link target's size and modification time as
fervid records them, so that `fervid analyze --manifest IN.txt -o OUT/ --resume` finds every
input complete when TIMELINE was made with the same settings. docs/scale-out.md.
"""
import argparse
import json
import os
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("timeline")
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    ap.add_argument("--inputs")
    ap.add_argument("--video")
    a = ap.parse_args()
    text = open(a.timeline).read()
    sidecar = json.load(open(a.timeline + ".json"))
    suffix = ".emotions." + ("jsonl" if a.timeline.endswith(".jsonl") else "csv")
    manifest = open(a.inputs.rstrip("/") + ".txt", "w") if a.inputs else None
    if a.inputs:
        st = os.stat(a.video)
        sidecar["source"]["size"] = st.st_size
        sidecar["source"]["modified"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9)) \
            + ".%09dZ" % (st.st_mtime_ns % 10**9)
    for i in range(a.n):
        rel = "site%02d/day%02d/session%05d" % (i % 100, i // 100 % 100, i)
        os.makedirs(os.path.dirname(os.path.join(a.out, rel)), exist_ok=True)
        with open(os.path.join(a.out, rel + suffix), "w") as f:
            f.write(text)
        if a.inputs:
            video = os.path.join(a.inputs, rel + ".mp4")
            os.makedirs(os.path.dirname(video), exist_ok=True)
            if not os.path.lexists(video):
                os.symlink(os.path.abspath(a.video), video)
            manifest.write(video + "\n")
            sidecar["source"]["location"] = video
        else:
            sidecar["source"]["location"] = "/data/corpus/" + rel + ".mp4"
        with open(os.path.join(a.out, rel + suffix + ".json"), "w") as f:
            json.dump(sidecar, f, indent=2, sort_keys=True)
    if manifest:
        manifest.close()


if __name__ == "__main__":
    main()
