import ArgumentParser
import CNN

/// `fervid bench --op conv [--batch N] [--threads N]`: convolution GFLOP/s against plain sgemm
/// on ResNet-101's shapes at 100×100 input (the lead adds it to the root command's subcommands).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the CNN engine's operations against plain sgemm.")

    enum Operation: String, ExpressibleByArgument, CaseIterable {
        case conv
    }

    @Option(help: "Operation to measure: \(Operation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var op: Operation = .conv

    @Option(help: "Batch size (default: 1 and 16).")
    var batch: Int?

    @Option(help: "Threads for OpenBLAS and the engine (default: all cores).")
    var threads: Int?

    @Option(help: "Minimum seconds per measurement.")
    var seconds: Double = 0.25

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if seconds <= 0 { throw ValidationError("--seconds must be positive") }
    }

    func run() throws {
        if let threads { Engine.setThreads(threads) }
        print("OpenBLAS core: \(Engine.blasCoreName); config: \(Engine.blasConfig); threads: \(Engine.threads)")
        switch op {
        case .conv:
            for b in batch.map({ [$0] }) ?? [1, 16] {
                print("")
                print(ConvBenchmark.table(ConvBenchmark.run(batch: b, minSeconds: seconds)))
            }
        }
    }
}
