import CNN
import Foundation
import Models
import Video

/// Any expression classifier whose safetensors metadata the engine understands, ready for the
/// pipeline: DBA-Net checkpoints (`fervid.arch = dbanet`) and the shipped mini-Xception.
///
/// Preprocessing comes from the metadata: `fervid.input_size`, `fervid.colour` (`grey` or
/// `rgb`), `fervid.mean` / `fervid.std` (per channel, on bytes / 255), and the crop geometry of
/// the architecture (mini-Xception: as the `fer` package crops; DBA-Net: square + 10 % margin
/// each side, like RAF-DB's aligned faces).
public final class LoadedClassifier: FrameClassifier, @unchecked Sendable {
    public let labels: [String]
    public let input: ClassifierInput
    public let metadata: [String: String]
    public let architecture: String
    private let forward: (Tensor) -> Tensor
    /// Input tensors by batch size, allocated once.
    private var inputs: [Int: Tensor] = [:]

    public struct UnsupportedModel: Error, CustomStringConvertible {
        public let path: String
        public let arch: String
        public var description: String {
            "\(path): architecture '\(arch)' is not an expression classifier fervid runs (dbanet, mini-xception)"
        }
    }

    /// Loads and validates `path` (strictly: every tensor present, used, and of the right shape).
    /// With `replicas` > 1 (default: `Engine.threads`) the network is loaded that many times and
    /// a batch is split across the copies, one thread each (``BatchParallel``): close to twice
    /// the throughput of splitting every layer on two cores, for that many times the weights'
    /// memory.
    public init(path: String, maxBatch: Int = 16, replicas: Int = Engine.threads) throws {
        let file = try SafeTensorsFile(path: path)
        metadata = file.metadata
        architecture = file.metadata["fervid.arch"] ?? ""
        switch architecture {
        case "mini-xception":
            let models = try (0..<Swift.max(1, replicas)).map { _ in try MiniXception(file: file) }
            labels = MiniXception.labels
            let size = MiniXception.inputSize
            // fer: x / 255, then (x − 0.5) × 2.
            input = ClassifierInput(width: size, height: size, layout: .gray8, mean: [0.5], std: [0.5],
                                    crop: .squarePlusPixels(10), resize: .ferGreyBilinear)
            forward = LoadedClassifier.parallel(models.map { m in { m($0) } })
        case "dbanet":
            let (model, meta) = try DBANet.load(contentsOf: path)
            let others = try (1..<Swift.max(1, replicas)).map { _ in try DBANet.load(contentsOf: path).0 }
            labels = meta.labels
            input = ClassifierInput(width: meta.inputSize.width, height: meta.inputSize.height, layout: .rgb24,
                                    mean: meta.mean, std: meta.std, crop: .squarePlusFraction(0.1))
            forward = LoadedClassifier.parallel(([model] + others).map { m in { m.probabilities($0) } })
        default:
            throw UnsupportedModel(path: path, arch: architecture.isEmpty ? "(none: no fervid.arch metadata)" : architecture)
        }
    }

    /// One forward function over the replicas: the replica itself when there is one.
    private static func parallel(_ forwards: [(Tensor) -> Tensor]) -> (Tensor) -> Tensor {
        if forwards.count == 1 { return forwards[0] }
        let parallel = BatchParallel(forwards)
        return { parallel($0) }
    }

    public func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]] {
        let per = input.width * input.height * input.layout.channels
        let x: Tensor
        if let cached = inputs[count] {
            x = cached
        } else {
            x = Tensor(shape: [count, input.layout.channels, input.height, input.width])
            inputs[count] = x
        }
        x.data.update(from: batch, count: count * per)
        let y = forward(x)  // (N, K) probabilities
        let k = labels.count
        precondition(y.shape == [count, k], "classifier output \(y.shape), expected [\(count), \(k)]")
        return (0 ..< count).map { n in Array(UnsafeBufferPointer(start: y.data + n * k, count: k)) }
    }
}
