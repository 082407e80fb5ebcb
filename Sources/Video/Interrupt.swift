import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The stop signal of a ``VideoSource``. Create one first and pass it to
/// ``VideoSource/init(url:options:interrupt:)`` to be able to stop even a blocked open; any
/// thread may call ``interrupt()``.
///
/// FFmpeg's interrupt callback polls it (about every 100 ms while a call blocks): the flag, and
/// a deadline the source re-arms before each blocking call.
public final class VideoInterrupt: Sendable {
    let interrupted = Atomic<Bool>(false)
    /// CLOCK_MONOTONIC nanoseconds after which blocking calls give up; `Int64.max` when disarmed.
    let deadline = Atomic<Int64>(.max)
    /// Set when the callback stopped a call for the deadline. Kept until an error consumes it: a
    /// demuxer may swallow the stop (returning a buffered packet) and report it on the next call.
    let deadlineFired = Atomic<Bool>(false)

    public init() {}

    /// Stops the source: a blocked open or read returns, back-off waits end, and the source ends
    /// with ``EndReason/interrupted``. Permanent.
    public func interrupt() { interrupted.store(true, ordering: .relaxed) }

    /// Whether ``interrupt()`` has been called.
    public var isInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    func arm(seconds: Double) {
        let span = seconds.isFinite ? Int64(min(seconds, 1e9) * 1e9) : .max / 2
        deadline.store(monotonicNanos() &+ max(0, span), ordering: .relaxed)
    }

    func disarm() { deadline.store(.max, ordering: .relaxed) }

    var isExpired: Bool { monotonicNanos() >= deadline.load(ordering: .relaxed) }

    /// The interrupt callback's answer: stop for an interrupt or for the deadline.
    func poll() -> Bool {
        if isInterrupted { return true }
        if isExpired {
            deadlineFired.store(true, ordering: .relaxed)
            return true
        }
        return false
    }

    /// Sleeps `seconds` in short slices; false if interrupted meanwhile.
    func sleep(seconds: Double) -> Bool {
        let end = monotonicNanos() + Int64(max(0, seconds) * 1e9)
        while !isInterrupted {
            let left = end - monotonicNanos()
            if left <= 0 { return true }
            usleep(useconds_t(min(left / 1000, 10_000)))
        }
        return false
    }
}

func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
