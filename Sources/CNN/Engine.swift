// Engine-wide settings (thread count), the engine's own parallel loop, and the one GEMM entry
// point: the only caller of `cblas_sgemm` in fervid.
import CBLAS
import CKernels
import Dispatch
import Foundation

/// Engine-wide settings.
public enum Engine {
    /// How a GEMM uses the engine's threads.
    public enum GemmThreading: String, Sendable, CaseIterable {
        /// OpenBLAS's own worker threads inside each call.
        case openBLAS
        /// OpenBLAS single-threaded; the engine splits each large GEMM into one block of rows
        /// (or columns) per thread and runs the blocks concurrently.
        case split
    }

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var threads = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
        var winogradF4 = true
        var gemmThreading = GemmThreading.openBLAS
        var kernel = GemmKernel.preferred
        var releaseFreed = false
        var freedPending = false

        init() { apply() }

        /// OpenBLAS's thread count for the current settings (call with the lock held or in init).
        /// One thread unless OpenBLAS runs the convolutions and threads them itself: its idle
        /// workers spin in sched_yield, which cost ~30% of the CPU time of an end-to-end run
        /// when they were kept for the few small `Linear` products.
        func apply() {
            openblas_set_num_threads(Int32(kernel == .openBLAS && gemmThreading == .openBLAS ? threads : 1))
        }
    }
    private static let state = State()

    /// The GEMM convolutions and `Linear` use (default ``GemmKernel/preferred``). Setting an
    /// unsupported kernel is a programming error.
    public static var gemmKernel: GemmKernel {
        get {
            state.lock.lock()
            defer { state.lock.unlock() }
            return state.kernel
        }
        set {
            precondition(newValue.isSupported, "gemm kernel \(newValue.rawValue) is not supported on this CPU")
            state.lock.lock()
            state.kernel = newValue
            state.apply()
            state.lock.unlock()
        }
    }

    /// Threads used by the engine: its own loops (im2col, transforms, epilogues, pools) and GEMM.
    /// Inside ``withThreads(_:_:)`` on the calling thread, that call's count.
    public static var threads: Int {
        if let p = pthread_getspecific(threadOverrideKey) { return Int(bitPattern: p) }
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.threads
    }

    /// Per-thread override of ``threads`` (the count as a pointer's bit pattern; nil: none).
    private static let threadOverrideKey: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    /// Runs `body` with the engine's loops and GEMMs limited to `n` threads on this thread only
    /// (``BatchParallel`` runs each replica single-threaded this way). OpenBLAS's own thread
    /// count is global and stays as set.
    public static func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(threadOverrideKey)
        pthread_setspecific(threadOverrideKey, UnsafeRawPointer(bitPattern: Swift.max(1, n)))
        defer { pthread_setspecific(threadOverrideKey, previous) }
        return try body()
    }

    /// Makes freed weights come back to the process's memory budget: a 3×3 layer's unpacked
    /// weights, dropped once its Winograd filters exist (`Conv2d`), sit in the middle of glibc's
    /// heap, which keeps them. With this set, the layer that dropped them calls `malloc_trim(0)`
    /// once its derivation is done (``releaseFreedMemoryIfPending()``), which hands their pages
    /// back: peak RSS of `fervid analyze … --model R101 --threads 1` (docs/engine.md) 726 → 636 MB.
    /// (A fixed 1 MiB mmap threshold did the same but made every frame-sized buffer a fresh
    /// mmap: page faults cost ~15 % of the CPU of a 1080p run.) Process-wide, so the executables
    /// call it first thing (a library user may too). No-op off glibc (`fervid_alloc.h`).
    public static func returnFreedMemory() {
        state.lock.lock()
        state.releaseFreed = true
        state.lock.unlock()
    }

    /// Records that weights were freed (a layer dropped its unpacked copy).
    static func noteWeightsDropped() {
        state.lock.lock()
        state.freedPending = true
        state.lock.unlock()
    }

    /// After a layer's derivation (`Conv2d.winogradConvolution`): gives freed weights back to the system if ``returnFreedMemory()``
    /// asked for it and some were dropped since the last call (once per drop, not per frame).
    static func releaseFreedMemoryIfPending() {
        state.lock.lock()
        let release = state.releaseFreed && state.freedPending
        state.freedPending = false
        state.lock.unlock()
        if release { _ = fervid_release_free_memory() }
    }

    /// Sets the engine's thread count to `n` (at least 1): its own loops, and GEMM (OpenBLAS's
    /// thread count, or the engine's GEMM splitting; see ``gemmThreading``).
    public static func setThreads(_ n: Int) {
        state.lock.lock()
        state.threads = Swift.max(1, n)
        state.apply()
        state.lock.unlock()
    }

    /// How GEMMs use the threads (default `.openBLAS`).
    public static var gemmThreading: GemmThreading {
        get {
            state.lock.lock()
            defer { state.lock.unlock() }
            return state.gemmThreading
        }
        set {
            state.lock.lock()
            state.gemmThreading = newValue
            state.apply()
            state.lock.unlock()
        }
    }

    /// Threads the engine splits one GEMM over (1 when OpenBLAS threads it).
    static var gemmSplitThreads: Int {
        let split = gemmThreading == .split
        return split ? threads : 1
    }

    /// Whether 3×3 convolutions may use Winograd F(4×4, 3×3): 4× fewer multiplications than
    /// im2col against 2.25× for F(2×2, 3×3), ~25–40% faster than F(2×2) on ResNet-101's 7×7
    /// and 25×25 layers at batch 16. Its rounding is ~10× F(2×2)'s: on a 256→256 layer with
    /// ReLU-range inputs and Kaiming-scale weights, max |error| / max |y| was 3.3e-6 (F(2×2):
    /// 3.1e-7, im2col: 2.6e-7). On by default; set false for bit-closer results.
    public static var winogradF4: Bool {
        get {
            state.lock.lock()
            defer { state.lock.unlock() }
            return state.winogradF4
        }
        set {
            state.lock.lock()
            state.winogradF4 = newValue
            state.lock.unlock()
        }
    }

    /// The OpenBLAS kernel family in use, e.g. "Haswell" (`openblas_get_corename`).
    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// A one-line warning when OpenBLAS runs kernels far below what the CPU supports, which
    /// happens when OpenBLAS 0.3.21 does not recognise a newer CPU and falls back to SSE3
    /// "Prescott" kernels (measured here: ~8 GFLOP/s against ~60 for Haswell on a loaded
    /// 2-core machine). `OPENBLAS_CORETYPE` is read when the library loads, so only the process
    /// environment can fix it. Nil when the kernels match the CPU or `OPENBLAS_CORETYPE` is set.
    public static var blasCoreWarning: String? {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else { return nil }
        let weak: Set<String> = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                 "Coppermine", "Northwood", "Banias", "Opteron", "Barcelona", "Unknown"]
        let core = blasCoreName
        guard weak.contains(core),
              let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              flags.contains(" avx2"), flags.contains(" fma") else { return nil }
        let better = flags.contains(" avx512f") ? "SkylakeX (AVX-512) or Haswell (AVX2)" : "Haswell (AVX2)"
        return "OpenBLAS chose \(core) kernels for this AVX2 CPU (it does not recognise it); "
            + "run with OPENBLAS_CORETYPE=\(better) for several times the GEMM speed"
    }

    /// OpenBLAS's build configuration string (`openblas_get_config`).
    public static var blasConfig: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}

/// Chunks `parallelFor` splits `count` items of `work` total operations into.
@inline(__always)
func parallelChunkCount(_ count: Int, work: Int = .max) -> Int {
    let threads = Swift.min(Engine.threads, count)
    // Below ~32K element operations (~10 µs on one core) handing half to another thread costs
    // about what it saves, with the engine's spinning pool (~1 µs per region when warm; a GCD
    // fork/join, the fallback, measured ~17 µs).
    return threads <= 1 || work < 1 << 15 ? 1 : threads
}

/// Runs `body(chunk, range)` over `0..<count` split into `parallelChunkCount(count, work:)`
/// contiguous ranges (or `threads` of them when given), in parallel when there is more than
/// one; `chunk` indexes per-chunk scratch.
func parallelFor(_ count: Int, work: Int = .max, threads: Int? = nil,
                 _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = threads.map { Swift.max(1, Swift.min($0, count)) } ?? parallelChunkCount(count, work: work)
    if chunks == 1 {
        body(0, 0..<count)
        return
    }
    // The body only touches disjoint index ranges of buffers its caller owns for the call's
    // duration; both ways below return after every chunk ran, so the non-escaping body is safe.
    withoutActuallyEscaping(body) { body in
        // The engine's spinning pool first (~1 µs per region when its workers are warm, where a
        // GCD fork/join measured ~17 µs, more after idle gaps); GCD when the pool is busy with
        // another thread's loop (the analyze pipeline runs two engines at once) or when nested.
        var job = PoolJob(body: body, count: count, chunks: chunks)
        let ran = withUnsafeMutablePointer(to: &job) { p in
            fervid_pool_run(Int32(chunks), poolTrampoline, UnsafeMutableRawPointer(p), Int32(chunks))
        }
        if ran != 0 { return }
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { t in
            let lo = count * t / chunks, hi = count * (t + 1) / chunks
            if lo < hi { shared.value(t, lo..<hi) }
        }
    }
}

/// One `parallelFor` call as the pool's task context.
private struct PoolJob {
    let body: (_ chunk: Int, _ range: Range<Int>) -> Void
    let count: Int, chunks: Int
}

/// The pool's task: chunk `t` of the `PoolJob` at `context`.
private let poolTrampoline: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Void = { context, t in
    let job = context!.assumingMemoryBound(to: PoolJob.self)
    let t = Int(t), count = job.pointee.count, chunks = job.pointee.chunks
    let lo = count * t / chunks, hi = count * (t + 1) / chunks
    if lo < hi { job.pointee.body(t, lo..<hi) }
}

/// `parallelFor` for bodies that need no per-chunk scratch.
@inline(__always)
func parallelFor(_ count: Int, work: Int = .max, threads: Int? = nil, _ body: (Range<Int>) -> Void) {
    parallelFor(count, work: work, threads: threads) { (_: Int, range: Range<Int>) in body(range) }
}

/// Hands a value to `concurrentPerform`'s `@Sendable` closure; see `parallelFor` for why it is safe.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// C = alpha · op(A) · op(B) + beta · C, row-major: the engine's single GEMM entry point.
/// `A` is M×K (K×M when `transA`), `B` is K×N (N×K when `transB`), `C` is M×N.
/// With `splitThreads` > 1 (``Engine/GemmThreading/split``) a large GEMM runs as concurrent
/// single-threaded blocks of rows (or columns); the parallel loop uses `Engine.threads` chunks.
@inline(__always)
func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
          b: UnsafePointer<Float>, ldb: Int,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
          splitThreads threads: Int = Engine.gemmSplitThreads) {
    precondition(m > 0 && n > 0 && k > 0, "gemm: empty shape \(m)×\(n)×\(k)")
    let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
    // Below ~2 M multiply-adds (~40 µs on one core) a split costs more than it saves.
    if threads <= 1 || m * n * k < 1 << 21 || Swift.max(m, n) < 2 * Engine.threads {
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
        return
    }
    if m >= n {
        // Blocks of rows of C = op(A) rows: each thread packs only its part of A.
        parallelFor(m) { rows in
            let a0 = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows.count), Int32(n), Int32(k), alpha, a0, Int32(lda),
                        b, Int32(ldb), beta, c + rows.lowerBound * ldc, Int32(ldc))
        }
    } else {
        // Blocks of columns of C = op(B) columns.
        parallelFor(n) { cols in
            let b0 = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(cols.count), Int32(k), alpha, a, Int32(lda),
                        b0, Int32(ldb), beta, c + cols.lowerBound, Int32(ldc))
        }
    }
}

/// Per-thread scratch for convolution (im2col columns and GEMM results), shared by every layer
/// run on that thread: one buffer per thread instead of one per layer keeps ResNet-101's 104
/// convolutions from each holding tens of megabytes.
final class ConvScratch: @unchecked Sendable {
    let columns = ScratchBuffer()
    let product = ScratchBuffer()
    /// Per-chunk rows of the Winograd transforms.
    let transform = ScratchBuffer()
    /// Packed blocks of B for `packedGemm`.
    let gemmPack = ScratchBuffer()

    /// A pthread key whose destructor releases the thread's scratch when the thread exits.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { p in
            guard let p else { return }
            Unmanaged<ConvScratch>.fromOpaque(p).release()
        }
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    /// The scratch of the workspace installed on this thread when it carries one, else the
    /// calling thread's own, created on first use (a lookup, no allocation, afterwards).
    static var current: ConvScratch {
        if let s = Workspace.installedScratch { return s }
        if let p = pthread_getspecific(key) {
            return Unmanaged<ConvScratch>.fromOpaque(p).takeUnretainedValue()
        }
        let s = ConvScratch()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }
}
