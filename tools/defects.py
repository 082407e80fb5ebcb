#!/usr/bin/env python3
"""Reproduces the 11 defects of issue 12 against a fervid binary, as a user meets them.

Usage: FERVID_BIN=path/to/fervid [FERVID_MODELS=models] [FERVID_SAMPLES=samples] python3 tools/defects.py
Prints one tab-separated line per defect: number, what is tried, what the binary did, and
`fixed` or `DEFECT`. Exit status 0 when every defect is fixed, 1 otherwise. Inputs are made
with the ffmpeg CLI in a temporary folder; nothing outside it is written. The table in
docs/reliability.md compares the binary before the fixes (ab0fc06) with the current one.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("FERVID_BIN", os.path.join(ROOT, ".build/release/fervid"))
MODELS = os.environ.get("FERVID_MODELS", os.path.join(ROOT, "models"))
SAMPLES = os.environ.get("FERVID_SAMPLES", os.path.join(ROOT, "samples"))
ENV = dict(os.environ, FERVID_MODELS=MODELS)
WORK = tempfile.mkdtemp(prefix="fervid-defects-")


def path(name):
    return os.path.join(WORK, name)


def fervid(*args, timeout=120, stdout=subprocess.PIPE):
    """(exit status or 'timeout'/'signal N', stdout, stderr)."""
    try:
        p = subprocess.run([BIN, *args], env=ENV, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"no exit in {timeout} s (killed)", b"", ""
    rc = p.returncode
    rc = f"signal {-rc}" if rc < 0 else rc
    return rc, p.stdout or b"", p.stderr.decode(errors="replace").strip()


def video(name="v.mp4", seconds=1, size="160x120"):
    out = path(name)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10:duration={seconds}",
                    "-pix_fmt", "yuv420p", out], check=True)
    return out


def rows(csv):
    with open(csv) as f:
        lines = f.read().splitlines()
    head = lines[0].split(",")
    return [dict(zip(head, line.split(","))) for line in lines[1:] if line]


def edited_model(edit):
    data = open(os.path.join(MODELS, "mini-xception.safetensors"), "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    edit(header, body)
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    out = path(f"model-{len(os.listdir(WORK))}.safetensors")
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + bytes(body))
    return out


def short(text, n=110):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def d1():
    v, boxes, csv = video(), path("huge.csv"), path("t1.csv")
    open(boxes, "w").write("frame,face_id,x,y,w,h\n0,0,1e308,1e308,1e308,1e308\n")
    rc, _, err = fervid("analyze", v, "--faces", f"boxes:{boxes}", "-o", csv, "--quiet")
    return f"exit {rc}" + (" (a trap)" if str(rc).startswith("signal") else ""), rc == 0


def d2():
    def edit(header, _):
        header["zz.kernel"] = {"dtype": "F32", "shape": [1000000, 1000000, 1000000, 0], "data_offsets": [0, 0]}
    model, v = edited_model(edit), video()
    rc, _, err = fervid("analyze", v, "--model", model, "-o", path("t2.csv"), "--faces", "center", "--quiet", timeout=30)
    return f"exit {rc}" + (f": {short(err.replace(model, 'MODEL'), 70)}" if err else ""), rc == 1 and "zz.kernel" in err


def d3():
    v = video("in.mp4")
    before = open(v, "rb").read()
    rc, _, err = fervid("analyze", v, "-o", v, "--faces", "center", "--quiet")
    intact = open(v, "rb").read() == before
    return f"exit {rc}, input {'intact' if intact else 'DESTROYED'}", rc == 2 and intact


def d4():
    # Whether validation accepts it: a missing input after it shows which step refused (no 9.6 GB spent).
    rc, _, err = fervid("analyze", path("missing.mp4"), "--decoder-threads", "10000", "--quiet")
    return f"exit {rc}: {short(err.replace(WORK + '/', ''), 70)}", rc == 2


def d5():
    v, boxes, csv = video(), path("outside.csv"), path("t5.csv")
    open(boxes, "w").write("frame,face_id,x,y,w,h\n0,0,5000,5000,40,40\n1,0,20,20,1e-300,1e-300\n")
    rc, _, err = fervid("analyze", v, "--faces", f"boxes:{boxes}", "-o", csv, "--quiet")
    if rc != 0:
        return f"exit {rc}: {short(err, 60)}", False
    got = {int(r["frame"]): r for r in rows(csv)}
    fabricated = [f for f in (0, 1) if got.get(f, {}).get("success") == "1"]
    return f"exit 0, frames 0/1 success={got[0]['success']}/{got[1]['success']}", not fabricated


def d6():
    victim = []

    def edit(header, body):
        # The last tensor by offset (mini-Xception's last pointwise kernel): one NaN there reaches
        # every output (one in an early batch-norm shift can be swallowed by ReLU and max-pooling).
        tensors = sorted((e["data_offsets"][0], k) for k, e in header.items()
                         if isinstance(e, dict) and e.get("dtype") == "F32" and e["data_offsets"][1] > e["data_offsets"][0])
        offset, name = tensors[-1]
        victim.append(name)
        body[offset:offset + 4] = struct.pack("<f", float("nan"))
    model, v, csv = edited_model(edit), video(), path("t6.csv")
    rc, _, err = fervid("analyze", v, "--model", model, "-o", csv, "--faces", "center", "--quiet")
    nan_rows = sum(1 for r in rows(csv) if r.get("angry") == "nan") if os.path.exists(csv) else 0
    what = f"exit {rc}, {nan_rows} rows with nan probabilities"
    return what + (f": {short(err.replace(model, 'MODEL'), 50)}" if err else ""), rc == 1 and nan_rows == 0


def d7():
    sample = os.path.join(SAMPLES, "WolfgangLanger_Pexels.mp4")
    cut, csv = path("cut.mp4"), path("t7.csv")
    data = open(sample, "rb").read()
    open(cut, "wb").write(data[:len(data) // 2])
    rc, _, err = fervid("analyze", cut, "-o", csv, "--faces", "center", "--quiet")
    side = json.load(open(csv + ".json"))
    status = side.get("status", "complete" if side.get("complete") else "?")
    return (f"exit {rc}, sidecar complete={str(side.get('complete')).lower()} status={status}, "
            f"stderr {'empty' if not err else 'says ' + short(err.replace(cut, 'CUT'), 40)}",
            rc == 3 and side.get("complete") is False and bool(err))


def d8():
    # A /dev/full of our own: the binary before the fix replaced the device by a regular file
    # (its atomic write renamed a temporary file over it), which must not happen to /dev/full.
    full = path("full")
    try:
        os.mknod(full, 0o666 | 0o020000, os.makedev(1, 7))
    except PermissionError:
        return "skipped (mknod needs root)", True
    v, csv = video(), path("t8.csv")
    rc, _, err = fervid("analyze", v, "-o", csv, "--summary", full, "--faces", "center", "--quiet")
    still = os.path.exists(full) and (os.stat(full).st_mode & 0o170000) == 0o020000
    what = f"--summary <a full device>: exit {rc}" + (f": {short(err.replace(WORK + '/', ''), 50)}" if err else "")
    what += "" if still else "; the device was REPLACED by a regular file"
    return what, rc == 1 and "No space" in err and still


def d9():
    sample = os.path.join(SAMPLES, "WolfgangLanger_Pexels.mp4")
    long, csv = path("long.mp4"), path("t9.csv")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "7", "-i", sample, "-c", "copy", long], check=True)
    # The default face stage (MTCNN): slow enough that 8 s is mid-run (3,776 frames to go).
    p = subprocess.Popen([BIN, "analyze", long, "-o", csv, "--quiet"], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)
    p.send_signal(signal.SIGKILL)
    p.wait()
    side = json.load(open(csv + ".json"))
    analyzed = side.get("frames", {}).get("analyzed")
    n = len(rows(csv))
    status = side.get("status") or f"complete={str(side.get('complete')).lower()}"
    return (f"SIGKILL after 8 s: {n} rows in the file; sidecar: {analyzed} analyzed, status {status}",
            n < 3776 and bool(analyzed) and analyzed > 0 and status != "complete")


def d10():
    v = video()
    _, _, fps = fervid("analyze", v, "--fps", "-1", "--quiet")
    _, _, ema = fervid("analyze", v, "--smooth", "ema:0", "--quiet")
    _, _, boxes = fervid("analyze", v, "--faces", f"boxes:{path('none.csv')}", "-o", path("t10.csv"), "--quiet")
    checks = [("--fps -1", "Missing value" not in fps and "positive" in fps),
              ("ema:0", "TAU must" in ema),
              ("missing boxes file", "NSCocoaErrorDomain" not in boxes and "No such file" in boxes)]
    text = "; ".join(f"{name} {'says why' if ok else 'does not'}" for name, ok in checks)
    return text, all(ok for _, ok in checks)


def d11():
    device = path("null")
    try:
        os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # a /dev/null of our own
    except PermissionError:
        return "skipped (mknod needs root)", True
    v = video()
    rc, _, err = fervid("analyze", v, "-o", device, "--faces", "center", "--quiet")
    made = os.path.exists(device + ".json")
    return f"-o <a null device>: exit {rc}, {'<device>.json created' if made else 'no <device>.json'}", not made


DEFECTS = [
    (1, "boxes file 0,0,1e308,1e308,1e308,1e308", d1),
    (2, "model with a [1e6,1e6,1e6,0] zero-element tensor", d2),
    (3, "analyze in.mp4 -o in.mp4", d3),
    (4, "--decoder-threads 10000", d4),
    (5, "box wholly outside the frame; w = h = 1e-300", d5),
    (6, "model with a NaN weight", d6),
    (7, "file cut at 50 %", d7),
    (8, "write errors (--summary on a /dev/full)", d8),
    (9, "SIGKILL mid-run: the sidecar", d9),
    (10, "messages: --fps -1, --smooth ema:0, a missing boxes file", d10),
    (11, "-o on a device: no <device>.json", d11),
]


def main():
    only = {int(a) for a in sys.argv[1:]}
    failed = 0
    print(f"binary\t{BIN}")
    try:
        for number, what, check in DEFECTS:
            if only and number not in only:
                continue
            try:
                result, fixed = check()
            except Exception as e:  # a reproduction that cannot run says so
                result, fixed = f"could not run: {e}", False
            failed += not fixed
            print(f"{number}\t{what}\t{result}\t{'fixed' if fixed else 'DEFECT'}", flush=True)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
