// Weights once, state per caller (STYLE.md §13): a layer object holds its parameters (and the
// packed copies derived from them) and nothing that changes during a forward pass; its outputs
// live in a `Workspace`, one per concurrent caller. whisper.cpp's context/state split, ggml's
// per-graph allocator: here a workspace maps each layer's output slot to a buffer sized at the
// first call of a shape and reused afterwards.
import Foundation

/// The activations of the forward passes run in it: one buffer per layer output slot (and the
/// per-call state of layers such as ``ChannelStack``). Not thread-safe: one caller at a time,
/// which ``WorkspacePool`` and the per-thread default guarantee.
public final class Workspace: @unchecked Sendable {
    private var tensors: [Int: Tensor] = [:]
    private var objects: [Int: AnyObject] = [:]
    /// The convolutions' scratch (im2col columns, GEMM packing) while this workspace is
    /// installed; nil: the calling thread's own, which grows to the largest layer the thread
    /// ever ran and stays with the thread.
    let scratch: ConvScratch?

    /// `ownScratch`: the workspace also carries the convolutions' scratch buffers, so a pool of
    /// them bounds that memory by the calls that overlap rather than by the threads that call
    /// (e.g. one detector's per stream in `fervid serve`).
    public init(ownScratch: Bool = false) {
        scratch = ownScratch ? ConvScratch() : nil
        poison = nil
    }

    /// What new and grown slot buffers hold: nil, nothing (uninitialized: every layer writes
    /// its whole output before anything reads it, so no zero-fill pass or first touch of pages
    /// it overwrites); a value (tests: NaN, so that a layer reading what it did not write shows).
    let poison: Float?

    /// A workspace whose new buffers are filled with `poison` (tests).
    init(ownScratch: Bool = false, poison: Float) {
        scratch = ownScratch ? ConvScratch() : nil
        self.poison = poison
    }

    /// Floats held by this workspace's buffers.
    public var floatCount: Int { tensors.values.reduce(0) { $0 + $1.capacity } }

    func tensor(_ id: Int, _ shape: [Int]) -> Tensor {
        if let t = tensors[id], t.capacity >= shape.reduce(1, *) {
            if t.shape != shape { t.setShape(shape) }
            return t
        }
        let t = Tensor(shape: shape, fill: poison)
        tensors[id] = t
        return t
    }

    func tensor(_ id: Int, _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Tensor {
        if let t = tensors[id], t.shape.count == 4, t.shape[0] == n, t.shape[1] == c, t.shape[2] == h, t.shape[3] == w {
            return t
        }
        return tensor(id, [n, c, h, w])
    }

    func tensor(_ id: Int, _ n: Int, _ f: Int) -> Tensor {
        if let t = tensors[id], t.shape.count == 2, t.shape[0] == n, t.shape[1] == f { return t }
        return tensor(id, [n, f])
    }

    /// The per-call state object of slot `id`, made by `make` on first use.
    func object<T: AnyObject>(_ id: Int, _ make: () -> T) -> T {
        if let o = objects[id] as? T { return o }
        let o = make()
        objects[id] = o
        return o
    }

    // MARK: Slots and the current workspace

    private static let slotLock = NSLock()
    nonisolated(unsafe) private static var nextSlot = 0

    /// A new, process-unique output slot id.
    static func newSlot() -> Int {
        slotLock.lock()
        defer { slotLock.unlock() }
        nextSlot += 1
        return nextSlot
    }

    /// The workspace a ``with(_:_:)`` installed on this thread (unretained; nil: none).
    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    /// The thread's own workspace, released when the thread exits.
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { p in
            guard let p else { return }
            Unmanaged<Workspace>.fromOpaque(p).release()
        }
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    /// The workspace layers use on this thread: the one installed by ``with(_:_:)``, else the
    /// thread's own (made on first use; tests and single-threaded callers such as the face
    /// detector's stage thread use that one).
    static var current: Workspace {
        if let p = pthread_getspecific(currentKey) {
            return Unmanaged<Workspace>.fromOpaque(p).takeUnretainedValue()
        }
        if let p = pthread_getspecific(threadKey) {
            return Unmanaged<Workspace>.fromOpaque(p).takeUnretainedValue()
        }
        let w = Workspace()
        pthread_setspecific(threadKey, Unmanaged.passRetained(w).toOpaque())
        return w
    }

    /// The scratch of the workspace installed on this thread, if it carries one.
    static var installedScratch: ConvScratch? {
        guard let p = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<Workspace>.fromOpaque(p).takeUnretainedValue().scratch
    }

    /// Runs `body` with the layers it calls on this thread using `workspace`.
    public static func with<T>(_ workspace: Workspace, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(currentKey)
        pthread_setspecific(currentKey, Unmanaged.passUnretained(workspace).toOpaque())
        defer { pthread_setspecific(currentKey, previous) }
        return try withExtendedLifetime(workspace) { try body() }
    }
}

/// Workspaces for the concurrent callers of one network: a call takes a free workspace (or
/// makes one), runs in it, and returns it. As many workspaces exist as calls ever overlapped.
public final class WorkspacePool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [Workspace] = []
    private var made = 0
    private let ownScratch: Bool

    /// `ownScratch`: each workspace also carries the convolutions' scratch (``Workspace/init(ownScratch:)``).
    public init(ownScratch: Bool = false) {
        self.ownScratch = ownScratch
    }

    /// Workspaces made so far (the most calls that overlapped).
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return made
    }

    /// Runs `body` in a workspace no other call is using.
    public func run<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        let w: Workspace
        if let last = free.popLast() {
            w = last
        } else {
            w = Workspace(ownScratch: ownScratch)
            made += 1
        }
        lock.unlock()
        defer {
            lock.lock()
            free.append(w)
            lock.unlock()
        }
        return try Workspace.with(w, body)
    }
}

/// Values derived from a layer's parameters (packed GEMM panels, Winograd filters), made once
/// per key on first use under a lock and then shared read-only by every thread.
final class DerivedCache<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Key: Value] = [:]

    /// The value for `key`, made by `make` if absent (other callers of the same layer wait).
    func value(_ key: Key, _ make: () -> Value) -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let v = values[key] { return v }
        let v = make()
        values[key] = v
        return v
    }

    /// The value for `key` if made.
    func peek(_ key: Key) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        return values[key]
    }

    /// Forgets every value (the parameters changed: a load).
    func removeAll() {
        lock.lock()
        values.removeAll()
        lock.unlock()
    }
}
