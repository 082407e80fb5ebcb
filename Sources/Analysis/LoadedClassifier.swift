import CNN
import Foundation
import Models
import Video

/// Any expression classifier the model registry (`Models.ModelRegistry`) loads, ready for the
/// pipeline: DBA-Net checkpoints (`fervid.arch = dbanet`) and the shipped mini-Xception.
/// Preprocessing (size, colour, mean/std, crop geometry) comes with the model from the registry.
public final class LoadedClassifier: FrameClassifier, @unchecked Sendable {
    public let labels: [String]
    public let input: ClassifierInput
    public let metadata: [String: String]
    public let architecture: String
    /// The loaded model (the first replica).
    public let model: ExpressionModel
    private let forward: (Tensor) -> Tensor
    /// Input tensors by batch size, allocated once.
    private var inputs: [Int: Tensor] = [:]

    /// Loads and validates `path` (strictly: every tensor present, used, and of the right shape).
    /// With `replicas` > 1 (default: `Engine.threads`) the network is loaded that many times and
    /// a batch is split across the copies, one thread each (``BatchParallel``): close to twice
    /// the throughput of splitting every layer on two cores, for that many times the weights'
    /// memory.
    public init(path: String, maxBatch: Int = 16, replicas: Int = Engine.threads) throws {
        let file = try SafeTensorsFile(path: path)
        let models = try (0..<Swift.max(1, replicas)).map { _ in try ModelRegistry.loadClassifier(file: file) }
        model = models[0]
        metadata = model.metadata
        architecture = model.architecture
        labels = model.labels
        input = model.preprocessing
        if models.count == 1 {
            forward = { models[0].probabilities($0) }
        } else {
            let parallel = BatchParallel(models.map { m in { m.probabilities($0) } })
            forward = { parallel($0) }
        }
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
