import Analysis
import ArgumentParser
import CNN
import CPeak
import Dispatch
import Foundation
import Models

/// `fervid models bench MODEL|CKPT`: forward passes per second of a classifier on a fixed random
/// input, and the machine's FMA peak (`--peak`), the two numbers `make bench` divides.
///
/// Timing: the model is loaded, warmed up (buffers grown, Winograd filters transformed), then
/// each repeat runs whole forward passes of `--batch` images for at least `--seconds` of wall
/// time; images/s of a repeat = passes × batch / elapsed, and the result is the median of the
/// repeats. `--serve` keeps the loaded model and runs one repeat per `run` line read on standard
/// input, so a harness can alternate it with another engine in one run (docs/benchmarks.md).
struct ModelsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a classifier's forward passes (images/s) and measure the FMA peak.",
        discussion: """
            MODEL is a .safetensors checkpoint (DBA-Net or mini-Xception), a shipped model name \
            (mini-xception), one of the face detector's networks (mtcnn-pnet: 3×217×385, the \
            largest pyramid level of a 640×360 frame; mtcnn-rnet, mtcnn-onet), or a built-in \
            DBA-Net name (dbanet-resnet101-dba: fixed random weights, no file). With --peak alone, only the FMA peak is measured.
            """)

    @Argument(help: "A checkpoint path, a shipped model name, or a built-in DBA-Net name.")
    var model: String?

    @Option(help: "Images per forward pass.")
    var batch: Int = 1

    @Option(help: "Threads for the engine (default: the number of cores); with --parallelism images also the number of parts a batch is split across.")
    var threads: Int?

    @Option(help: "How threads share a batch: images (the batch cut into one part per thread, each part run single-threaded on the one loaded network in its own workspace; a batch of 1 splits layers) or layers (every layer split across the threads).")
    var parallelism: Parallelism = .images

    @Option(help: "Minimum wall-clock seconds per timed repeat.")
    var seconds: Double = 1.0

    @Option(help: "Timed repeats (the median is reported).")
    var repeats: Int = 5

    @Option(help: "Warm-up seconds before timing (at least two passes are always run).")
    var warmup: Double = 0.5

    @Flag(help: "Also measure the FMA peak GFLOP/s (AVX-512 and AVX2) with --threads threads.")
    var peak = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "After warm-up, run one repeat per 'run' line on standard input (one JSON line each); 'peak' measures the FMA peak; 'quit' or end of input exits.")
    var serve = false

    func validate() throws {
        guard model != nil || peak else { throw ValidationError("give a MODEL, or --peak") }
        guard (1 ... 1024).contains(batch) else { throw ValidationError("--batch must be a whole number from 1 to 1024") }
        if let threads { guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be a whole number from 1 to 256") } }
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds must be a positive number") }
        guard (1 ... 1000).contains(repeats) else { throw ValidationError("--repeats must be a whole number from 1 to 1000") }
        guard warmup >= 0, warmup.isFinite else { throw ValidationError("--warmup must be seconds ≥ 0") }
        if serve && model == nil { throw ValidationError("--serve needs a MODEL") }
    }

    func run() throws {
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        Engine.setThreads(threadCount)
        var result: [String: Any] = ["threads": threadCount, "blas_core": Engine.blasCoreName,
                                     "parallelism": parallelism.rawValue, "gemm": Engine.gemmKernel.rawValue]
        // Bad input first (one error line), then the kernel warning before anything is timed.
        let bench = try model.map { try BenchModel.load($0, parallel: parallelism == .images) }
        if let warning = Engine.blasCoreWarning { printError("warning: \(warning)") }

        if let bench {
            let runner = ForwardTimer(model: bench, batch: batch)
            runner.warmUp(seconds: warmup)
            result["model"] = bench.name
            result["batch"] = batch
            result["input_shape"] = [batch] + bench.inputShape
            if serve {
                serveLoop(runner, header: result, threads: threadCount)
                return
            }
            let rates = (0 ..< repeats).map { _ in runner.repeatOnce(seconds: seconds).imagesPerSecond }
            result["images_per_second"] = median(rates)
            result["repeats"] = rates
        }
        if peak {
            for (key, value) in FMAPeak.measureAll(threads: threadCount) { result[key] = value }
        }
        if json {
            emitJSON(result)
        } else {
            printText(result)
        }
    }

    /// One JSON line per command read; the harness drives the alternation.
    private func serveLoop(_ runner: ForwardTimer, header: [String: Any], threads: Int) {
        var ready = header
        ready["ready"] = true
        emitJSON(ready)
        while let line = readLine() {
            switch line.trimmingCharacters(in: .whitespaces) {
            case "run":
                let r = runner.repeatOnce(seconds: seconds)
                emitJSON(["images_per_second": r.imagesPerSecond, "passes": r.passes, "seconds": r.seconds,
                          "cpu_seconds": r.cpuSeconds])
            case "peak":
                emitJSON(FMAPeak.measureAll(threads: threads))
            case "quit":
                return
            case "":
                continue
            case let other:
                emitJSON(["error": "unknown command '\(other)' (run, peak, quit)"])
            }
        }
    }

    private func printText(_ r: [String: Any]) {
        if let name = r["model"] {
            let rates = (r["repeats"] as? [Double] ?? []).map { String(format: "%.2f", $0) }.joined(separator: " ")
            print("model \(name), batch \(batch), threads \(r["threads"]!) (parallelism: \(r["parallelism"]!)), GEMM \(r["gemm"]!), OpenBLAS core \(r["blas_core"]!)")
            print(String(format: "images/s: %.2f (median of %d repeats: %@)", r["images_per_second"] as? Double ?? 0,
                         repeats, rates))
        }
        if peak {
            for isa in ["avx512", "avx2"] {
                if let g = r["peak_\(isa)_gflops"] as? Double, let c = r["peak_\(isa)_cpu_gflops"] as? Double {
                    print(String(format: "FMA peak %@ with %d threads: %.1f GFLOP/s wall clock, %.1f GFLOP/s per CPU time",
                                 isa, r["threads"] as? Int ?? 0, g, c))
                } else {
                    print("FMA peak \(isa): not supported by this CPU")
                }
            }
        }
    }
}

/// Writes one JSON object as a line and flushes (standard output may be a pipe).
private func emitJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

private func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// How a benchmark's threads share a batch.
enum Parallelism: String, ExpressibleByArgument, CaseIterable {
    case images, layers
}

/// A loaded classifier reduced to what timing needs: its per-image input shape and a forward
/// pass to logits.
struct BenchModel {
    let name: String
    /// (C, H, W) of one image.
    let inputShape: [Int]
    let forward: (Tensor) -> Tensor

    /// The model behind `spec`; with `parallel`, its thread-safe ``ExpressionModel/classify(_:)``
    /// path (a batch split across the threads, each part in its own workspace, one copy of the
    /// weights) in place of the logits on the calling thread.
    static func load(_ spec: String, parallel: Bool) throws -> BenchModel {
        if let network = MTCNNNetwork(rawValue: spec) {
            let forward = network.forward(try MTCNNNetwork.load())
            guard parallel else { return BenchModel(name: spec, inputShape: network.inputShape, forward: forward) }
            let split = BatchParallel(forward)
            return BenchModel(name: spec, inputShape: network.inputShape, forward: { split($0) })
        }
        let (name, model) = try load(spec)
        return BenchModel(name: name, inputShape: model.inputShape,
                          forward: parallel ? { model.classify($0) } : { model.logits($0) })
    }

    static func load(_ spec: String) throws -> (name: String, model: ExpressionModel) {
        if let specs = ModelRegistry.tensorSpecs(builtIn: spec),
           let model = try ModelRegistry.classifier(builtIn: spec, weights: randomWeights(specs, source: spec)) {
            return (spec, model)
        }
        let path = FileManager.default.fileExists(atPath: spec) ? spec : try resolve(spec)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure(subject: path, cause: "no such file")
        }
        let model = try ModelsCommand.loadClassifier(path)
        return (model.name, model)
    }

    private static func resolve(_ spec: String) throws -> String {
        do {
            return try ModelLocator.resolve(spec)
        } catch {
            throw CommandFailure(subject: spec, cause: "neither a model file, a shipped model nor a built-in DBA-Net name: \(error.description)")
        }
    }

    /// Fixed pseudo-random weights for an architecture without a file: He-scaled uniform
    /// weights, biases and BN shifts ±0.1, BN scales 1 ± 0.25, running variances 1 ± 0.5, so
    /// activations stay O(1) and no value is zero or subnormal (timing is value-independent
    /// otherwise).
    static func randomWeights(_ specs: [TensorSpec], source: String) -> WeightLoader {
        var rng = SplitMix64(seed: 0x5EED)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for spec in specs {
            let fanIn = spec.shape.dropFirst().reduce(1, *)
            let u = { () -> Float in rng.uniform() }
            let values: [Float]
            if spec.name.hasSuffix("running_var") {
                values = (0 ..< spec.count).map { _ in 1 + 0.5 * u() }
            } else if spec.shape.count >= 2 {
                let scale = (3.0 / Float(fanIn)).squareRoot()
                values = (0 ..< spec.count).map { _ in scale * u() }
            } else if spec.name.hasSuffix(".weight") {
                values = (0 ..< spec.count).map { _ in 1 + 0.25 * u() }
            } else {
                values = (0 ..< spec.count).map { _ in 0.1 * u() }
            }
            tensors[spec.name] = (spec.shape, values)
        }
        return WeightLoader(tensors: tensors, source: source)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a fixed, portable sequence for inputs and weights.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [−1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// Runs a model's forward pass on one fixed input tensor and times it.
final class ForwardTimer {
    let model: BenchModel
    let batch: Int
    let input: Tensor
    /// Written from every output so the passes are observably used.
    private(set) var checksum: Float = 0

    init(model: BenchModel, batch: Int) {
        self.model = model
        self.batch = batch
        input = Tensor(shape: [batch] + model.inputShape)
        var rng = SplitMix64(seed: 0x1A9E7)
        for i in 0 ..< input.count { input.data[i] = 2 * rng.uniform() }   // roughly normalized pixels
    }

    private func pass() {
        let y = model.forward(input)
        checksum += y.data[0]
    }

    /// At least two passes, then more until `seconds` have passed.
    func warmUp(seconds: Double) {
        let start = now()
        var passes = 0
        while passes < 2 || now() - start < seconds {
            pass()
            passes += 1
        }
    }

    /// Whole passes until at least `seconds` of wall time; also the CPU seconds the process
    /// (all its threads) used meanwhile.
    func repeatOnce(seconds: Double) -> (imagesPerSecond: Double, passes: Int, seconds: Double, cpuSeconds: Double) {
        let cpu0 = processCPUTime()
        let start = now()
        var passes = 0
        var elapsed = 0.0
        repeat {
            pass()
            passes += 1
            elapsed = now() - start
        } while elapsed < seconds
        return (Double(passes * batch) / elapsed, passes, elapsed, processCPUTime() - cpu0)
    }

    /// User + system seconds of every thread of this process.
    private func processCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

/// The machine's fused multiply-add peak: `threads` threads each running independent FMA
/// chains (CPeak), FLOPs counted as 2 per lane per FMA; the best of five runs of ~0.2 s.
///
/// Two clocks: each thread's CPU time (what the cores deliver while the loop runs: the machine's
/// limit, steady under other processes' load; `make bench` divides by it) and wall time (the
/// peak under the machine's current load).
enum FMAPeak {
    enum ISA: String, CaseIterable { case avx512, avx2 }

    /// `peak_<isa>_gflops` (wall) and `peak_<isa>_cpu_gflops` for what the CPU supports.
    static func measureAll(threads: Int) -> [String: Any] {
        var out: [String: Any] = [:]
        for isa in ISA.allCases {
            if let (wall, cpu) = measure(isa, threads: threads) {
                out["peak_\(isa.rawValue)_gflops"] = wall
                out["peak_\(isa.rawValue)_cpu_gflops"] = cpu
            }
        }
        return out
    }

    /// (wall-clock GFLOP/s, CPU-time GFLOP/s), nil when the CPU lacks the instruction set.
    static func measure(_ isa: ISA, threads: Int, runs: Int = 5, seconds: Double = 0.2) -> (Double, Double)? {
        let lanes: Double
        let kernel: @Sendable (Int) -> Float
        switch isa {
        case .avx512:
            guard fervid_peak_has_avx512f() == 1 else { return nil }
            lanes = 16
            kernel = { fervid_peak_fma512($0) }
        case .avx2:
            guard fervid_peak_has_avx2_fma() == 1 else { return nil }
            lanes = 8
            kernel = { fervid_peak_fma256($0) }
        }
        // Calibrate the iteration count on one thread to about `seconds` per run.
        var iterations = 100_000
        while true {
            let t0 = now()
            _ = kernel(iterations)
            let dt = now() - t0
            if dt > 0.02 {
                iterations = max(1, Int(Double(iterations) * seconds / dt))
                break
            }
            iterations *= 4
        }
        let flopsPerThread = Double(iterations) * Double(FERVID_PEAK_CHAINS) * lanes * 2
        let n = iterations
        var bestWall = 0.0, bestCPU = 0.0
        for _ in 0 ..< runs {
            let cpuSeconds = ThreadTimes(count: threads)
            let t0 = now()
            DispatchQueue.concurrentPerform(iterations: threads) { i in
                let c0 = threadCPUTime()
                // The result depends on every FMA; using it keeps the loop from being discarded.
                if kernel(n).isNaN { printError("FMA peak: NaN") }
                cpuSeconds.set(i, threadCPUTime() - c0)
            }
            let wall = now() - t0
            bestWall = max(bestWall, Double(threads) * flopsPerThread / wall / 1e9)
            bestCPU = max(bestCPU, cpuSeconds.values.reduce(0) { $0 + flopsPerThread / max($1, 1e-9) } / 1e9)
        }
        return (bestWall, bestCPU)
    }

    /// Seconds of CPU time the calling thread has used.
    private static func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// One slot per thread, written once each.
    private final class ThreadTimes: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Double]
        init(count: Int) { slots = [Double](repeating: 0, count: count) }
        func set(_ i: Int, _ v: Double) { lock.withLock { slots[i] = v } }
        var values: [Double] { lock.withLock { slots } }
    }
}
