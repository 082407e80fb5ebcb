// One loaded network, any number of callers, and data parallelism across a batch: the batch is
// cut into one part per thread, each part runs the same network single-threaded in its own
// workspace. No synchronization inside the forward pass, so two threads come close to twice one
// thread's throughput, where splitting every layer across threads (`Engine.threads` inside one
// call) loses time at every layer's fork and join (measured on ResNet-101 DBA at batch 16: 1.5×
// one thread with layer splitting; two single-threaded halves of the batch: 2.0×). The weights
// (and their packed copies) exist once whatever the thread count.
import Dispatch
import Foundation

/// A network's forward pass made safe to call from any number of threads at once, with a batch
/// split across the engine's threads: the batch is cut into contiguous parts (at most one per
/// image, at most `Engine.threads`), each run concurrently under `Engine.withThreads(1)` in a
/// workspace of its own, and the outputs joined along the first dimension. A batch of one image
/// runs as one call with all of `Engine.threads`.
///
/// `forward` must compute from its input and the network's parameters only (every engine
/// layer does: a layer keeps its activations in the caller's ``Workspace``).
public final class BatchParallel: @unchecked Sendable {
    private let forward: (Tensor) -> Tensor
    private let workspaces = WorkspacePool()

    public init(_ forward: @escaping (Tensor) -> Tensor) {
        self.forward = forward
    }

    /// Workspaces made so far: the most parts and callers that ran at once.
    public var workspaceCount: Int { workspaces.count }

    /// The network's output for `x` (N, …): (N, …), a new tensor owned by the caller.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape.first ?? 0
        let parts = Swift.min(n, Engine.threads)
        if parts <= 1 {
            return workspaces.run {
                let y = forward(x)
                return Tensor(copying: y)
            }
        }
        let join = Join(n: n)
        let shared = UncheckedSendable(self)
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            shared.value.runPart(x, from: n * i / parts, to: n * (i + 1) / parts, into: join)
        }
        return join.output!
    }

    /// The joined output, made by the first part to finish (its shape is known then).
    private final class Join: @unchecked Sendable {
        let n: Int
        let lock = NSLock()
        var output: Tensor?
        init(n: Int) { self.n = n }

        func tensor(like r: Tensor) -> Tensor {
            lock.lock()
            defer { lock.unlock() }
            // Uninitialized: the parts write their images' rows, which cover all n.
            if output == nil { output = Tensor(uninitializedShape: [n] + r.shape.dropFirst()) }
            return output!
        }
    }

    /// Images [lo, hi) of `x`, single-threaded in a workspace of their own, into `join`.
    private func runPart(_ x: Tensor, from lo: Int, to hi: Int, into join: Join) {
        let per = x.count / join.n
        let chunk = Tensor(uninitializedShape: [hi - lo] + x.shape.dropFirst())
        chunk.data.update(from: x.data + lo * per, count: (hi - lo) * per)
        workspaces.run {
            let r = Engine.withThreads(1) { forward(chunk) }
            precondition(r.shape.first == hi - lo, "BatchParallel: \(hi - lo) inputs gave output \(r.shape)")
            let y = join.tensor(like: r)
            precondition(y.shape.dropFirst().elementsEqual(r.shape.dropFirst()),
                         "BatchParallel: parts disagree on the output shape: \(r.shape) vs \(y.shape)")
            (y.data + lo * (r.count / (hi - lo))).update(from: r.data, count: r.count)
        }
    }
}

extension Tensor {
    /// A new tensor with `other`'s shape and values.
    public convenience init(copying other: Tensor) {
        self.init(uninitializedShape: other.shape)
        data.update(from: other.data, count: other.count)
    }
}

