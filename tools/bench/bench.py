"""`make bench`: fervid's CNN engine against ONNX Runtime on the same networks and weights, and
`fervid analyze` end to end (issue 8; docs/benchmarks.md).

1. export.py (in a subprocess: PyTorch stays out of the timing process) writes each network as
   safetensors + ONNX from the same weights.
2. Parity: `fervid models run` and ONNX Runtime on the same check input; the logits must agree
   within 1e-4 relative (max |fervid - ort| / max |ort|), for both OpenBLAS kernel families,
   before anything is timed.
3. FMA peak: `fervid models bench --peak` per thread count, at the start and at the end; the
   per-CPU-time figure (the machine's limit, steady under load) is peak_fraction's denominator.
4. Timing, per (model, threads, batch): two `fervid models bench --serve` processes, one with
   OPENBLAS_CORETYPE=Haswell (OpenBLAS's AVX2 kernels, the workplace's setting) and one with
   SkylakeX (AVX-512) -- on a CPU with AVX2 or AVX-512 fervid runs its own packed GEMM in both
   (the widest kernel the CPU has), so the two differ only where OpenBLAS still runs (none of
   the convolutions; see docs/benchmarks.md) -- and an ONNX Runtime session (intra_op_num_threads=T, inter_op_num_threads=1) in
   this process. After warm-up, rounds of one timed repeat each, the order rotating every round
   so no runner always follows another; a repeat runs whole forward passes for >= --seconds.
   Result: the median of each runner's repeats.
5. End to end: `fervid analyze --stats` on the sample video with the default model and with the
   DBA-Net ResNet-101 checkpoint (Haswell kernels): frames/s, real-time factor, busy seconds per
   stage.
Output ends with one machine-readable line per measurement (the format issue 8 fixes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOLERANCE = 1e-4
# blas label in the output -> OPENBLAS_CORETYPE for that fervid process.
BLAS = {"haswell": "Haswell", "avx512": "SkylakeX"}
PAUSE = 0.2  # seconds between runners: idle worker threads stop spinning


def log(text: str = "") -> None:
    print(text, flush=True)


def env_for(blas: str) -> dict:
    env = dict(os.environ)
    env["OPENBLAS_CORETYPE"] = BLAS[blas]
    return env


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def ort_session(path: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class OrtRunner:
    """ONNX Runtime on one fixed input, timed like fervid's ForwardTimer."""

    def __init__(self, session: ort.InferenceSession, shape: list[int], batch: int):
        self.session = session
        self.batch = batch
        rng = np.random.default_rng(16)
        self.feed = {"input": (2 * rng.uniform(-1, 1, [batch] + shape)).astype(np.float32)}

    def warm_up(self) -> None:
        for _ in range(2):
            self.session.run(None, self.feed)

    def repeat(self, seconds: float) -> tuple[float, float]:
        """(images per second, images per CPU second of this process)."""
        cpu = time.process_time()
        start = time.perf_counter()
        passes = 0
        while True:
            self.session.run(None, self.feed)
            passes += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return passes * self.batch / elapsed, passes * self.batch / (time.process_time() - cpu)


class FervidServer:
    """`fervid models bench --serve`: one loaded model, one timed repeat per request."""

    def __init__(self, fervid: str, ckpt: str, batch: int, threads: int, blas: str, seconds: float):
        self.batch = batch
        self.proc = subprocess.Popen(
            [fervid, "models", "bench", ckpt, "--batch", str(batch), "--threads", str(threads),
             "--seconds", str(seconds), "--warmup", "0", "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env_for(blas))
        self.ready = self._read()
        if not self.ready.get("ready"):
            raise RuntimeError(f"fervid models bench --serve did not start: {self.ready}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fervid models bench exited with {self.proc.wait()}")
        return json.loads(line)

    def repeat(self) -> tuple[float, float]:
        """(images per second, images per CPU second of the fervid process)."""
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        r = self._read()
        return r["images_per_second"], r["passes"] * self.batch / r["cpu_seconds"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def fervid_logits(fervid: str, ckpt: str, check: str, blas: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.safetensors")
        subprocess.run([fervid, "models", "run", ckpt, "--input", check, "--output", out],
                       check=True, env=env_for(blas))
        return load_file(out)["logits"]


def parity(fervid: str, models: list[dict]) -> list[dict]:
    rows = []
    for m in models:
        x = load_file(m["check_input"])["input"]
        ref = ort_session(m["onnx"], 1).run(None, {"input": x})[0]
        torch_err = relative_error(ref, np.array(m["torch_logits"], dtype=np.float32))
        for blas in BLAS:
            err = relative_error(fervid_logits(fervid, m["safetensors"], m["check_input"], blas), ref)
            rows.append({"model": m["name"], "blas": blas, "fervid_vs_ort": err, "ort_vs_torch": torch_err})
            log(f"parity {m['name']} blas={blas}: fervid vs onnxruntime {err:.2e}, onnxruntime vs PyTorch "
                f"{torch_err:.2e} (max |a - b| / max |b| over the logits of a batch of 2; budget {TOLERANCE:g})")
            if not err <= TOLERANCE:
                sys.exit(f"bench: {m['name']}: fervid and onnxruntime logits differ by {err:.2e} "
                         f"(> {TOLERANCE:g}) with {BLAS[blas]} kernels; not timing a wrong network")
    return rows


def peak(fervid: str, threads: int) -> dict:
    out = subprocess.run([fervid, "models", "bench", "--peak", "--threads", str(threads), "--json"],
                         check=True, capture_output=True, text=True, env=env_for("haswell")).stdout
    return json.loads(out)


def time_config(fervid: str, m: dict, session, batch: int, threads: int, seconds: float, rounds: int) -> dict:
    servers = {}
    try:
        for blas in BLAS:
            servers[blas] = FervidServer(fervid, m["safetensors"], batch, threads, blas, seconds)
        runner = OrtRunner(session, m["input_shape"], batch)
        runner.warm_up()
        cores = {blas: s.ready["blas_core"] for blas, s in servers.items()}
        for blas, core in cores.items():
            if core != BLAS[blas]:
                sys.exit(f"bench: OPENBLAS_CORETYPE={BLAS[blas]} gave OpenBLAS core {core}")
        runners = [("haswell", servers["haswell"].repeat), ("onnxruntime", lambda: runner.repeat(seconds)),
                   ("avx512", servers["avx512"].repeat)]
        samples = {name: [] for name, _ in runners}
        for r in range(rounds):
            for name, run in runners[r % 3:] + runners[:r % 3]:
                time.sleep(PAUSE)
                samples[name].append(run())
        # Which GEMM each fervid process ran (fervid's own packed kernels on an AVX2/AVX-512 CPU,
        # whatever OPENBLAS_CORETYPE says; OpenBLAS only without AVX2 or with FERVID_GEMM=openblas).
        result = {"samples": samples, "gemm": {blas: s.ready.get("gemm", "openblas") for blas, s in servers.items()}}
        for name, v in samples.items():
            result[name] = statistics.median(wall for wall, _ in v)
            result[name + "_cpu"] = statistics.median(cpu for _, cpu in v)
        return result
    finally:
        for s in servers.values():
            s.close()


STATS = re.compile(r"^stats (.*)$", re.M)


def analyze(fervid: str, video: str, model: str | None, out_dir: str) -> dict:
    out = os.path.join(out_dir, "e2e.emotions.csv")
    cmd = [fervid, "analyze", video, "-o", out, "--quiet", "--stats"] + (["--model", model] if model else [])
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env_for("haswell"))
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed: {done.stderr.strip()}")
    match = STATS.search(done.stderr)
    if not match:
        sys.exit(f"bench: no stats line from {' '.join(cmd)}")
    stats = dict(kv.split("=", 1) for kv in match.group(1).split())
    duration = float(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", video],
        check=True, capture_output=True, text=True).stdout)
    pipeline_wall = float(stats["wall_s"])
    return {"command": " ".join(cmd), "duration": duration, "process_wall": wall, "stats": stats,
            "fps": float(stats["frames_analyzed"]) / pipeline_wall, "realtime": duration / pipeline_wall}


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "load": os.getloadavg(), "onnxruntime": ort.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description="fervid vs ONNX Runtime (issue 8)")
    ap.add_argument("--fervid", required=True, help="the release fervid binary")
    ap.add_argument("--work", default=os.path.join(ROOT, "tools", ".cache", "bench"), help="exported models")
    ap.add_argument("--models", default="vgg16-dba,resnet101-dba,densenet161-dba,mini-xception")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum seconds per timed repeat")
    ap.add_argument("--rounds", type=int, default=5, help="timed repeats per runner")
    ap.add_argument("--video", default=os.path.join(ROOT, "samples", "WolfgangLanger_Pexels.mp4"))
    ap.add_argument("--no-e2e", action="store_true", help="skip fervid analyze")
    ap.add_argument("--json", help="also write every number to this file")
    args = ap.parse_args()
    fervid = os.path.abspath(args.fervid)
    batches = [int(b) for b in args.batches.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    started = time.time()

    subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "--out", args.work], check=True)
    with open(os.path.join(args.work, "manifest.json")) as f:
        by_name = {m["name"]: m for m in json.load(f)["models"]}
    models = [by_name[n] for n in args.models.split(",")]
    info = machine()
    log(f"machine: {info['cpu']}, {info['cores']} cores, load average {info['load'][0]:.1f}; "
        f"onnxruntime {info['onnxruntime']}")

    parity_rows = parity(fervid, models)
    peaks = {t: [peak(fervid, t)] for t in thread_counts}
    for t in thread_counts:
        p = peaks[t][0]
        log(f"FMA peak, {t} thread(s): AVX-512 {p.get('peak_avx512_gflops', 0):.1f} GFLOP/s wall "
            f"({p.get('peak_avx512_cpu_gflops', 0):.1f} per CPU time), AVX2 {p.get('peak_avx2_gflops', 0):.1f} "
            f"({p.get('peak_avx2_cpu_gflops', 0):.1f})")

    results = []
    for m in models:
        for t in thread_counts:
            session = ort_session(m["onnx"], t)
            for b in batches:
                r = time_config(fervid, m, session, b, t, args.seconds, args.rounds)
                r.update(model=m["name"], batch=b, threads=t, macs=m["macs_per_image"])
                results.append(r)
                log(f"{m['name']} batch={b} threads={t}: fervid haswell {r['haswell']:.2f}, avx512 "
                    f"{r['avx512']:.2f}, onnxruntime {r['onnxruntime']:.2f} images/s "
                    f"({time.time() - started:.0f} s elapsed)")
            del session

    for t in thread_counts:
        peaks[t].append(peak(fervid, t))
    # The machine's limit: FMA GFLOP/s per CPU time (what the cores deliver while running; the
    # wall-clock figure moves with the other processes' load), best of start and end.
    def best(isa: str, clock: str, t: int) -> float:
        return max(p.get(f"peak_{isa}{clock}_gflops", 0) for p in peaks[t])
    peak_machine = {t: best("avx512", "_cpu", t) or best("avx2", "_cpu", t) for t in thread_counts}
    peak_isa = {"avx512": peak_machine, "avx2": {t: best("avx2", "_cpu", t) for t in thread_counts}}

    def family_peak(r: dict, blas: str, t: int) -> float:
        """The FMA peak of the instruction set the fervid process's GEMM ran: its own kernel's
        (avx512 / avx2), or OpenBLAS's family (Haswell = AVX2) when OpenBLAS ran the GEMMs."""
        gemm = r.get("gemm", {}).get(blas, "openblas")
        isa = gemm if gemm in peak_isa else ("avx2" if blas == "haswell" else "avx512")
        return peak_isa[isa][t]

    e2e = []
    if not args.no_e2e:
        with tempfile.TemporaryDirectory() as tmp:
            for label, model in (("mini-xception", None), ("resnet101-dba", by_name["resnet101-dba"]["safetensors"])):
                r = analyze(fervid, args.video, model, tmp)
                r["model"] = label
                e2e.append(r)
                s = r["stats"]
                log(f"e2e {label}: {s['frames_analyzed']} frames, {s['faces']} faces in {float(s['wall_s']):.1f} s "
                    f"(process {r['process_wall']:.1f} s): {r['fps']:.2f} frames/s, real-time factor "
                    f"{r['realtime']:.2f}; busy seconds: decode {s['decode_s']}, face {s['face_s']}, "
                    f"classify {s['classify_s']}, write {s['write_s']}")

    # ---- report ---------------------------------------------------------------------------
    log()
    log(f"## Engine: images/s, median of {args.rounds} alternated repeats of >= {args.seconds:g} s; "
        f"GFLOP/s = 2 x MACs x images/s; peak fraction: of the machine's AVX-512 FMA peak, "
        f"family fraction: of the peak of the instruction set fervid's GEMM ran (its own kernels: the "
        f"widest the CPU has, whatever OPENBLAS_CORETYPE says; OpenBLAS's family only when OpenBLAS ran)")
    log("ratio per CPU s: the same ratio with each engine's images per CPU-second of its process (all threads, "
        "spinning included): steadier than wall clock while other processes load the machine")
    log("| model | GMACs | batch | threads | blas | fervid | onnxruntime | ratio | ratio per CPU s | GFLOP/s | peak fraction | family fraction |")
    log("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    lines = []
    for r in results:
        for blas in BLAS:
            f, o = r[blas], r["onnxruntime"]
            gflops = f * 2 * r["macs"] / 1e9
            t = r["threads"]
            fraction = gflops / peak_machine[t] if peak_machine[t] else 0
            family = gflops / family_peak(r, blas, t) if family_peak(r, blas, t) else 0
            r[f"{blas}_peak_fraction"] = fraction
            log(f"| {r['model']} | {r['macs'] / 1e9:.3f} | {r['batch']} | {t} | {blas} | {f:.2f} | {o:.2f} | "
                f"{f / o:.2f} | {r[blas + '_cpu'] / r['onnxruntime_cpu']:.2f} | {gflops:.1f} | {fraction:.3f} | {family:.3f} |")
            lines.append(f"bench model={r['model']} batch={r['batch']} threads={r['threads']} blas={blas} "
                         f"fervid={f:.2f} onnxruntime={o:.2f} ratio={f / o:.3f} peak_fraction={fraction:.3f}")
    log()
    log("FMA peak GFLOP/s, best of start and end (per CPU time = the machine's limit; wall clock = under this run's load)")
    log("| threads | AVX-512 per CPU time | AVX-512 wall clock | AVX2 per CPU time | AVX2 wall clock |")
    log("|---:|---:|---:|---:|---:|")
    for t in thread_counts:
        log(f"| {t} | {best('avx512', '_cpu', t):.1f} | {best('avx512', '', t):.1f} | {best('avx2', '_cpu', t):.1f} "
            f"| {best('avx2', '', t):.1f} |")
    log(f"load average (1 min) at start {info['load'][0]:.1f}, at end {os.getloadavg()[0]:.1f}")
    if e2e:
        engine = {r["model"]: r["haswell"] for r in results if r["batch"] == 16 and r["threads"] == max(thread_counts)}
        log()
        log("## End to end: fervid analyze (OPENBLAS_CORETYPE=Haswell, default threads)")
        log("| model | frames | faces | wall s | frames/s | real-time | decode s | face s | classify s | write s | vs engine batch 16 |")
        log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in e2e:
            s = r["stats"]
            vs = f"{r['fps'] / engine[r['model']]:.2f}" if r["model"] in engine else "—"
            log(f"| {r['model']} | {s['frames_analyzed']} | {s['faces']} | {float(s['wall_s']):.1f} | {r['fps']:.2f} | "
                f"{r['realtime']:.2f} | {s['decode_s']} | {s['face_s']} | {s['classify_s']} | {s['write_s']} | {vs} |")
            lines.append(f"bench e2e model={r['model']} input={os.path.basename(args.video)} fps={r['fps']:.2f} "
                         f"realtime={r['realtime']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "parity": parity_rows, "peaks": peaks, "engine": results, "e2e": e2e}, f, indent=1)
    log()
    log(f"total {time.time() - started:.0f} s")
    for line in lines:
        log(line)


if __name__ == "__main__":
    main()
