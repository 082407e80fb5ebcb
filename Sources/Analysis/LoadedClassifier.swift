import CNN
import Foundation
import Models
import Video

/// Any expression classifier the model registry (`Models.ModelRegistry`) loads, ready for the
/// pipeline: DBA-Net checkpoints (`fervid.arch = dbanet`) and the shipped mini-Xception.
/// Preprocessing (size, colour, mean/std, crop geometry) comes with the model from the registry.
public final class LoadedClassifier: FrameClassifier, Sendable {
    public let labels: [String]
    public let input: ClassifierInput
    public let metadata: [String: String]
    public let architecture: String
    /// The loaded model: one copy of the weights, whatever the thread count.
    public let model: ExpressionModel

    /// Loads and validates `path` (strictly: every tensor present, used, and of the right shape)
    /// through the model registry. `classify` may be called from any number of threads at once:
    /// each batch is split across `Engine.threads` (read per call), every part in a workspace of
    /// its own, on the one loaded model.
    public convenience init(path: String) throws {
        try self.init(model: ModelRegistry.loadClassifier(path: path))
    }

    /// A classifier over an already loaded model (several analyzers can share one).
    public init(model: ExpressionModel) {
        self.model = model
        metadata = model.metadata
        architecture = model.architecture
        labels = model.labels
        input = model.preprocessing
    }

    public func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]] {
        let per = input.width * input.height * input.layout.channels
        let x = Tensor(shape: [count, input.layout.channels, input.height, input.width])
        x.data.update(from: batch, count: count * per)
        let y = model.classify(x)  // (N, K) probabilities, ours
        let k = labels.count
        precondition(y.shape == [count, k], "classifier output \(y.shape), expected [\(count), \(k)]")
        return (0 ..< count).map { n in Array(UnsafeBufferPointer(start: y.data + n * k, count: k)) }
    }
}
