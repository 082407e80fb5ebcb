import ArgumentParser
@_spi(Workbench) import CNN
import Models
import Foundation

extension ConvBenchmark.Clock: ExpressibleByArgument {}
extension Engine.GemmThreading: ExpressibleByArgument {}

/// `fervid bench --op conv [--batch N] [--threads N]`: convolution GFLOP/s against plain sgemm
/// on ResNet-101's shapes at 100×100 input (the lead adds it to the root command's subcommands).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the CNN engine's operations against plain sgemm.")

    enum Operation: String, ExpressibleByArgument, CaseIterable {
        /// ResNet-101's convolution shapes against plain sgemm.
        case conv
        /// Whole DBA-Net forward passes (untrained weights), per backbone, at 100×100.
        case dbanet
        /// Decoding alone (with the face detector's per-frame conversion) of `--input`.
        case decode
    }

    @Option(help: "The video --op decode reads.")
    var input: String?

    @Option(help: "Operation to measure: \(Operation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var op: Operation = .conv

    @Option(help: "Batch size (default: 1 and 16).")
    var batch: Int?

    @Option(help: "Threads for the engine and for OpenBLAS's sgemm column (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("shape"), help: "Only shapes whose name contains this text (repeatable).")
    var shapeFilters: [String] = []

    @Option(help: "Clock: wall, or thread (the thread's CPU time; needs --threads 1).")
    var clock: ConvBenchmark.Clock = .wall

    @Flag(inversion: .prefixedNo, help: "Let 3×3 convolutions use Winograd F(4×4, 3×3) (Engine.winogradF4).")
    var winogradF4 = true

    @Option(help: "GEMM threading: openBLAS (its worker threads) or split (the engine splits each GEMM).")
    var gemmThreading: Engine.GemmThreading = .openBLAS

    @Option(help: "Minimum seconds per measurement.")
    var seconds: Double = 0.25

    @Option(name: .customLong("blas-cores"),
            help: "Comma-separated OPENBLAS_CORETYPE values (e.g. Haswell,SkylakeX): rerun once per kernel family in this run.")
    var blasCores: String?

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if clock == .thread && threads != 1 { throw ValidationError("--clock thread needs --threads 1") }
        if seconds <= 0 { throw ValidationError("--seconds must be positive") }
        if op == .decode && input == nil { throw ValidationError("--op decode needs --input FILE") }
        if !shapeFilters.isEmpty && !ConvBenchmark.resnet101At100.contains(where: { s in shapeFilters.contains { s.name.contains($0) } }) {
            throw ValidationError("--shape matches none of: \(ConvBenchmark.resnet101At100.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        if let blasCores {
            // OPENBLAS_CORETYPE is read when OpenBLAS loads: one child process per kernel family,
            // with the same arguments minus this option.
            var args: [String] = []
            var skip = false
            for a in CommandLine.arguments.dropFirst() {
                if skip { skip = false; continue }
                if a == "--blas-cores" { skip = true; continue }
                if a.hasPrefix("--blas-cores=") { continue }
                args.append(a)
            }
            for core in blasCores.split(separator: ",").map(String.init) {
                FileHandle.standardOutput.write(Data("\n## OPENBLAS_CORETYPE=\(core)\n".utf8))
                let child = Process()
                child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
                child.arguments = args
                var env = ProcessInfo.processInfo.environment
                env["OPENBLAS_CORETYPE"] = core
                child.environment = env
                try child.run()
                child.waitUntilExit()
                if child.terminationStatus != 0 { throw ExitCode(child.terminationStatus) }
            }
            return
        }
        if op == .decode, let input {
            let r = try DecodeBench.run(input: input)
            print(String(format: "decode %@: %d frames of %dx%d in %.3f s: %.2f frames/s", input, r.frames, r.width, r.height,
                         r.seconds, r.framesPerSecond))
            return
        }
        if let warning = Engine.blasCoreWarning { print("warning: \(warning)") }
        Engine.gemmThreading = gemmThreading
        if let threads { Engine.setThreads(threads) }
        Engine.winogradF4 = winogradF4
        print("OpenBLAS core: \(Engine.blasCoreName); config: \(Engine.blasConfig); threads: \(Engine.threads); "
              + "GEMM threading: \(Engine.gemmThreading.rawValue)")
        switch op {
        case .dbanet:
            print("")
            print("| model | batch | ms / forward | images / s |")
            print("|---|---:|---:|---:|")
            for backbone in DBANetBackbone.allCases where backbone != .vgg16_bn {
                let model = DBANet(backbone: backbone, strategy: .dba)
                for b in batch.map({ [$0] }) ?? [1, 16] {
                    let x = Tensor(shape: [b, 3, 100, 100], values: (0..<(b * 30_000)).map { Float($0 % 255) / 255 - 0.5 })
                    var times: [Double] = []
                    _ = model(x)                                       // warm-up: buffers, Winograd filters
                    let start = ConvBenchmark.Clock.wall.seconds()
                    while times.count < 3 || ConvBenchmark.Clock.wall.seconds() - start < seconds {
                        let t0 = clock.seconds()
                        _ = model(x)
                        times.append(clock.seconds() - t0)
                    }
                    let median = times.sorted()[times.count / 2]
                    print("| DBA-Net \(backbone.rawValue) | \(b) | \(String(format: "%.1f", median * 1e3)) | "
                          + "\(String(format: "%.1f", Double(b) / median)) |")
                }
            }
        case .decode:
            break
        case .conv:
            for b in batch.map({ [$0] }) ?? [1, 16] {
                print("")
                let shapes = ConvBenchmark.resnet101At100.filter { s in
                    shapeFilters.isEmpty || shapeFilters.contains { s.name.contains($0) }
                }
                print(ConvBenchmark.table(ConvBenchmark.run(shapes: shapes, batch: b, minSeconds: seconds, clock: clock)))
            }
        }
    }
}
