import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What FFmpeg's interrupt callback polls (about every 100 ms while a call blocks): a flag another
/// thread sets, and a deadline re-armed before each blocking call.
final class InterruptState: Sendable {
    let interrupted = Atomic<Bool>(false)
    /// CLOCK_MONOTONIC nanoseconds after which blocking calls give up; `Int64.max` when disarmed.
    let deadline = Atomic<Int64>(.max)

    func arm(seconds: Double) {
        let span = seconds.isFinite ? Int64(min(seconds, 1e9) * 1e9) : .max / 2
        deadline.store(monotonicNanos() &+ max(0, span), ordering: .relaxed)
    }

    func disarm() { deadline.store(.max, ordering: .relaxed) }

    var isInterrupted: Bool { interrupted.load(ordering: .relaxed) }
    var isExpired: Bool { monotonicNanos() >= deadline.load(ordering: .relaxed) }
    var shouldStop: Bool { isInterrupted || isExpired }

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
