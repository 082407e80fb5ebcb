// Data parallelism across the images of a batch: one replica of a network per thread, each
// running its share of the images with single-threaded operations. No synchronization inside
// the forward pass, so two threads come close to twice one thread's throughput, where splitting
// every layer across threads (`Engine.threads` inside one network) loses time at every layer's
// fork and join (measured on ResNet-101 DBA at batch 16: 1.5× one thread with layer splitting;
// two single-threaded halves of the batch: 2.0×).
import Dispatch

/// Runs a batch across replicas of one network: the batch is cut into contiguous parts, one per
/// replica (at most one per image), run concurrently, each under `Engine.withThreads(1)`, and
/// the outputs are joined along the first dimension. A batch of one image runs on the first
/// replica with all of `Engine.threads`.
///
/// The replicas must be independent objects (their own weights and buffers) computing the same
/// function; each is used by one thread at a time. Not reentrant: one call at a time.
public final class BatchParallel: @unchecked Sendable {
    private let replicas: [(Tensor) -> Tensor]
    private var inputs: [OutputBuffer]
    private var output = OutputBuffer()

    /// `replicas` forward functions (at least one) of independent copies of the network.
    public init(_ replicas: [(Tensor) -> Tensor]) {
        precondition(!replicas.isEmpty, "BatchParallel: no replicas")
        self.replicas = replicas
        inputs = Array(repeating: OutputBuffer(), count: replicas.count)
    }

    /// How many replicas there are (the most parts a batch is cut into).
    public var count: Int { replicas.count }

    /// The network's output for `x` (N, …): (N, …) as one replica computes it.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape.first ?? 0
        let parts = Swift.min(replicas.count, n, Engine.threads)
        if parts <= 1 { return replicas[0](x) }
        let per = x.count / n
        var chunks: [Tensor] = []
        for i in 0..<parts {
            let lo = n * i / parts, hi = n * (i + 1) / parts
            let t = inputs[i].tensor([hi - lo] + x.shape.dropFirst())
            t.data.update(from: x.data + lo * per, count: (hi - lo) * per)
            chunks.append(t)
        }
        var results = [Tensor?](repeating: nil, count: parts)
        results.withUnsafeMutableBufferPointer { slots in
            // Each iteration touches only its own slot, chunk and replica.
            let shared = UncheckedSendable((slots, chunks, replicas))
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let (slots, chunks, replicas) = shared.value
                slots[i] = Engine.withThreads(1) { replicas[i](chunks[i]) }
            }
        }
        let first = results[0]!
        let outPer = first.count / Swift.max(first.shape[0], 1)
        let y = output.tensor([n] + first.shape.dropFirst())
        var offset = 0
        for r in results {
            let r = r!
            precondition(Array(r.shape.dropFirst()) == Array(first.shape.dropFirst()),
                         "BatchParallel: replicas disagree on the output shape: \(r.shape) vs \(first.shape)")
            (y.data + offset).update(from: r.data, count: r.count)
            offset += r.count
        }
        precondition(offset == n * outPer)
        return y
    }
}
