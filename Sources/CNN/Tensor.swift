// Tensors of the CNN engine: NCHW float32, contiguous, reference semantics so that a layer's
// output slot in a workspace is reused from call to call without copying.

/// Owner of one heap buffer of floats; freed in `deinit`. Shared by a tensor and its views.
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int

    /// `fill`: the value of every element; nil leaves them uninitialized (a buffer its user
    /// writes whole before reading: no pass over memory, no first-touch of pages it overwrites).
    init(capacity: Int, fill: Float? = 0) {
        self.capacity = Swift.max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
        if let fill { pointer.initialize(repeating: fill, count: self.capacity) }
    }

    deinit { pointer.deallocate() }
}

/// An NCHW (or (N, F)) float32 tensor: contiguous, owning (or sharing) its buffer.
///
/// A reference type: a layer returns the tensor of its output slot in the calling thread's
/// workspace and overwrites it on its next call in that workspace, so a forward pass allocates
/// nothing in steady state. Copy with ``toArray()`` to keep values.
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first: `[N, C, H, W]` for images, `[N, F]` for features.
    public private(set) var shape: [Int]
    /// Number of elements, the product of ``shape``.
    public private(set) var count: Int
    /// The first element; the buffer holds at least ``count`` floats.
    public let data: UnsafeMutablePointer<Float>
    let storage: FloatStorage

    /// Elements the buffer can hold: a reused tensor can be reshaped up to this count.
    var capacity: Int { storage.capacity }

    /// A zero-filled tensor of the given shape.
    public convenience init(shape: [Int]) {
        self.init(shape: shape, fill: 0)
    }

    /// A tensor of the given shape whose elements are not initialized: for a buffer the caller
    /// writes whole before reading it (an input batch, a copy), without the zero-fill's pass.
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, fill: nil)
    }

    /// A tensor whose elements are all `fill` (nil: uninitialized).
    init(shape: [Int], fill: Float?) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        storage = FloatStorage(capacity: count, fill: fill)
        data = storage.pointer
        self.shape = shape
        self.count = count
    }

    /// A tensor holding `values` (row-major, `values.count` == product of `shape`).
    public convenience init(shape: [Int], values: [Float]) {
        self.init(uninitializedShape: shape)
        precondition(values.count == count,
                     "Tensor: \(values.count) values for shape \(shape) (\(count) elements)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    private init(storage: FloatStorage, shape: [Int]) {
        self.storage = storage
        data = storage.pointer
        self.shape = shape
        count = shape.reduce(1, *)
    }

    /// The values, row-major, as a new array.
    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: data, count: count))
    }

    /// A view with another shape of the same element count, sharing this tensor's storage.
    public func reshaped(_ shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == count, "reshaped: \(self.shape) -> \(shape) changes the count")
        return Tensor(storage: storage, shape: shape)
    }

    /// Re-labels the buffer with a new shape that fits in ``capacity`` (layer buffer reuse).
    func setShape(_ newShape: [Int]) {
        let n = newShape.reduce(1, *)
        precondition(n <= capacity)
        shape = newShape
        count = n
    }

    /// Dimension `i` (negative counts from the end).
    @inline(__always) func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }
}

/// A layer's output slot: a name for one of its outputs, whose buffer lives in the calling
/// thread's ``Workspace`` (the one a ``WorkspacePool`` checked out for the call, else the thread's
/// own). The layer holds only the slot's id, so one loaded network runs on any number of threads
/// at once, each with its own activations. A slot's tensor is relabelled to the shape asked
/// when it fits, else grown (once per growth, never in steady state).
///
/// Every layer makes its own slots; a model may give several layers one slot when it knows the
/// earlier output is dead before the later one is written (ResNet's blocks share their
/// intermediate buffers), which is how a network's activations are planned once.
public struct OutputSlot: Sendable, Hashable {
    let id: Int

    /// A new slot, distinct from every other.
    public init() { id = Workspace.newSlot() }

    /// The slot's tensor of `shape` in the calling thread's workspace (contents: whatever the
    /// slot's last call there left; undefined when new or grown: every layer writes its whole
    /// output).
    public func tensor(_ shape: [Int]) -> Tensor { Workspace.current.tensor(id, shape) }

    /// 4-D variant that builds no shape array when the shape is unchanged.
    func tensor(_ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Tensor { Workspace.current.tensor(id, n, c, h, w) }

    /// 2-D variant of ``tensor(_:_:_:_:)``.
    func tensor(_ n: Int, _ f: Int) -> Tensor { Workspace.current.tensor(id, n, f) }
}

/// A growable scratch array of floats owned by one object, 64-byte aligned (whole cache lines,
/// aligned vector loads in the GEMM kernels); contents are not preserved on growth.
final class ScratchBuffer: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() {
        capacity = 0
        pointer = ScratchBuffer.allocate(1)
    }

    /// `count` uninitialized floats at a 64-byte boundary; free with `deallocate()`.
    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    /// A buffer of at least `count` floats (uninitialized contents on growth).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            pointer = ScratchBuffer.allocate(count)
            capacity = count
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}
