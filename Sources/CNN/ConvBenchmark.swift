// `fervid bench --op conv`: the engine's convolution against plain `cblas_sgemm` on the same
// (M, N, K), for the convolution shapes of ResNet-101 at 100×100 input.
import Foundation

/// Measures convolution throughput against the GEMM it reduces to.
@_spi(Workbench) public enum ConvBenchmark {
    /// One convolution shape of a network.
    public struct Shape: Sendable {
        public let name: String
        public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
        /// Input height = width.
        public let inputSize: Int
        /// How many convolutions of this shape the network has.
        public let occurrences: Int

        public init(_ name: String, in inChannels: Int, out outChannels: Int, kernel: Int, stride: Int = 1,
                    padding: Int = 0, input: Int, occurrences: Int) {
            self.name = name
            self.inChannels = inChannels
            self.outChannels = outChannels
            self.kernel = kernel
            self.stride = stride
            self.padding = padding
            inputSize = input
            self.occurrences = occurrences
        }

        /// Output height = width.
        public var outputSize: Int { (inputSize + 2 * padding - kernel) / stride + 1 }
    }

    /// ResNet-101 (torchvision, stride on the 3×3 of each stage's first block) at 100×100:
    /// stem 100→50, layer1 at 25×25, layer2 at 13×13, layer3 at 7×7, layer4 at 4×4.
    /// Occurrence counts cover every convolution of the network ([3, 4, 23, 3] blocks).
    public static let resnet101At100: [Shape] = [
        Shape("conv1 7x7/2", in: 3, out: 64, kernel: 7, stride: 2, padding: 3, input: 100, occurrences: 1),
        Shape("layer1 1x1 64->64", in: 64, out: 64, kernel: 1, input: 25, occurrences: 1),
        Shape("layer1 3x3 64", in: 64, out: 64, kernel: 3, padding: 1, input: 25, occurrences: 3),
        Shape("layer1 1x1 64->256", in: 64, out: 256, kernel: 1, input: 25, occurrences: 4),
        Shape("layer1 1x1 256->64", in: 256, out: 64, kernel: 1, input: 25, occurrences: 2),
        Shape("layer2 1x1 256->128", in: 256, out: 128, kernel: 1, input: 25, occurrences: 1),
        Shape("layer2 3x3 128/2", in: 128, out: 128, kernel: 3, stride: 2, padding: 1, input: 25, occurrences: 1),
        Shape("layer2 1x1 256->512/2", in: 256, out: 512, kernel: 1, stride: 2, input: 25, occurrences: 1),
        Shape("layer2 3x3 128", in: 128, out: 128, kernel: 3, padding: 1, input: 13, occurrences: 3),
        Shape("layer2 1x1 128->512", in: 128, out: 512, kernel: 1, input: 13, occurrences: 4),
        Shape("layer2 1x1 512->128", in: 512, out: 128, kernel: 1, input: 13, occurrences: 3),
        Shape("layer3 1x1 512->256", in: 512, out: 256, kernel: 1, input: 13, occurrences: 1),
        Shape("layer3 3x3 256/2", in: 256, out: 256, kernel: 3, stride: 2, padding: 1, input: 13, occurrences: 1),
        Shape("layer3 1x1 512->1024/2", in: 512, out: 1024, kernel: 1, stride: 2, input: 13, occurrences: 1),
        Shape("layer3 3x3 256", in: 256, out: 256, kernel: 3, padding: 1, input: 7, occurrences: 22),
        Shape("layer3 1x1 256->1024", in: 256, out: 1024, kernel: 1, input: 7, occurrences: 23),
        Shape("layer3 1x1 1024->256", in: 1024, out: 256, kernel: 1, input: 7, occurrences: 22),
        Shape("layer4 1x1 1024->512", in: 1024, out: 512, kernel: 1, input: 7, occurrences: 1),
        Shape("layer4 3x3 512/2", in: 512, out: 512, kernel: 3, stride: 2, padding: 1, input: 7, occurrences: 1),
        Shape("layer4 1x1 1024->2048/2", in: 1024, out: 2048, kernel: 1, stride: 2, input: 7, occurrences: 1),
        Shape("layer4 3x3 512", in: 512, out: 512, kernel: 3, padding: 1, input: 4, occurrences: 2),
        Shape("layer4 1x1 512->2048", in: 512, out: 2048, kernel: 1, input: 4, occurrences: 3),
        Shape("layer4 1x1 2048->512", in: 2048, out: 512, kernel: 1, input: 4, occurrences: 2),
    ]

    /// Timings of one shape at one batch size.
    public struct Result: Sendable {
        public let shape: Shape
        public let batch: Int
        /// GEMM dimensions: M = out, N = batch·OH·OW, K = in·k·k.
        public let m: Int, n: Int, k: Int
        /// The engine's choice for this shape: "im2col", "winograd F2" (F(2×2, 3×3)) or "winograd F4".
        public let algorithm: String
        /// Median seconds per call: the engine's choice, plain sgemm, the im2col path.
        public let convSeconds: Double, gemmSeconds: Double, im2colSeconds: Double

        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
        public var convGFLOPS: Double { flops / convSeconds / 1e9 }
        public var gemmGFLOPS: Double { flops / gemmSeconds / 1e9 }
    }

    /// Median seconds per call of each body, the bodies interleaved round by round (so a burst
    /// of load from other processes hits them alike), for at least `minSeconds` and 5 rounds
    /// after one warm-up round.
    static func time(minSeconds: Double, clock: Clock, _ bodies: [() -> Void]) -> [Double] {
        for body in bodies { body() }
        var samples = [[Double]](repeating: [], count: bodies.count)
        let start = DispatchTime.now().uptimeNanoseconds
        while samples[0].count < 5 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < minSeconds {
            for (i, body) in bodies.enumerated() {
                let t0 = clock.seconds()
                body()
                samples[i].append(clock.seconds() - t0)
            }
        }
        return samples.map { $0.sorted()[$0.count / 2] }
    }

    /// What a measurement counts: elapsed time, or the calling thread's CPU time (with one
    /// thread, this ignores time the thread spent descheduled by other processes: steadier
    /// on a shared machine, but blind to waits).
    public enum Clock: String, Sendable, CaseIterable {
        case wall, thread

        /// Now, in seconds, on this clock.
        public func seconds() -> Double {
            var ts = timespec()
            clock_gettime(self == .wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
    }

    /// Times the engine's `Conv2d` (bias, ReLU epilogue; its automatic algorithm, and im2col
    /// when that differs) and a bare GEMM of the im2col (M, N, K).
    public static func run(shapes: [Shape] = resnet101At100, batch: Int, minSeconds: Double = 0.25,
                           clock: Clock = .wall) -> [Result] {
        shapes.map { s in
            let conv = Conv2d(s.name, in: s.inChannels, out: s.outChannels, kernel: s.kernel, stride: s.stride,
                              padding: .symmetric(s.padding), activation: .relu)
            var seed: UInt32 = 1
            func fill(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
                for i in 0..<count {
                    seed = seed &* 1_664_525 &+ 1_013_904_223      // LCG: any non-zero data will do
                    p[i] = Float(seed >> 9) / Float(1 << 22) - 1   // [−1, 1)
                }
            }
            conv.weight.withUnsafeMutableBufferPointer { fill($0.baseAddress!, $0.count) }
            conv.bias.withUnsafeMutableBufferPointer { fill($0.baseAddress!, $0.count) }
            let x = Tensor(shape: [batch, s.inChannels, s.inputSize, s.inputSize])
            fill(x.data, x.count)
            let m = s.outChannels, n = batch * s.outputSize * s.outputSize
            let k = s.inChannels * s.kernel * s.kernel
            let a = Tensor(shape: [m, k]), b = Tensor(shape: [k, n]), c = Tensor(shape: [m, n])
            fill(a.data, a.count)
            fill(b.data, b.count)
            let tile = conv.winogradTileSize(conv.geometry(n: batch, h: s.inputSize, w: s.inputSize))
            let winograd = tile != nil
            var bodies: [() -> Void] = [
                { _ = conv(x) },
                { gemm(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: c.data, ldc: n) },
            ]
            if winograd {
                let plain = Conv2d(s.name, in: s.inChannels, out: s.outChannels, kernel: s.kernel, stride: s.stride,
                                   padding: .symmetric(s.padding), activation: .relu)
                plain.weight = conv.weight
                plain.bias = conv.bias
                plain.algorithm = .im2col
                bodies.append { _ = plain(x) }
            }
            let t = time(minSeconds: minSeconds, clock: clock, bodies)
            return Result(shape: s, batch: batch, m: m, n: n, k: k, algorithm: tile.map { "winograd F\($0)" } ?? "im2col",
                          convSeconds: t[0], gemmSeconds: t[1], im2colSeconds: winograd ? t[2] : t[0])
        }
    }

    /// A Markdown table of `results`, with a network-weighted total (each shape × its occurrences).
    public static func table(_ results: [Result]) -> String {
        func f(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
        var lines = [
            "| shape | batch | M | N | K | algorithm | conv ms | conv GFLOP/s | sgemm GFLOP/s | conv/sgemm | im2col ms |",
            "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        var convTotal = 0.0, gemmTotal = 0.0, flopTotal = 0.0, im2colTotal = 0.0
        for r in results {
            lines.append("| \(r.shape.name) | \(r.batch) | \(r.m) | \(r.n) | \(r.k) | \(r.algorithm) | \(f(r.convSeconds * 1e3, 3)) | "
                         + "\(f(r.convGFLOPS)) | \(f(r.gemmGFLOPS)) | \(f(r.gemmSeconds / r.convSeconds, 2)) | \(f(r.im2colSeconds * 1e3, 3)) |")
            let o = Double(r.shape.occurrences)
            convTotal += o * r.convSeconds
            gemmTotal += o * r.gemmSeconds
            im2colTotal += o * r.im2colSeconds
            flopTotal += o * r.flops
        }
        if let first = results.first {
            lines.append("| **all convs, weighted** | \(first.batch) | | | | | \(f(convTotal * 1e3, 2)) | "
                         + "\(f(flopTotal / convTotal / 1e9)) | \(f(flopTotal / gemmTotal / 1e9)) | \(f(gemmTotal / convTotal, 2)) | \(f(im2colTotal * 1e3, 2)) |")
        }
        return lines.joined(separator: "\n")
    }
}
