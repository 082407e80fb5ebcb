import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a live source's frames wait for the pipeline: back-pressure in stream time.
///
/// A frame is dropped only when the pipeline's lag — how far the oldest frame still waiting is
/// behind the newest frame received, in stream time — would exceed ``maxLag``, or when it has
/// waited longer than ``maxLag`` on the wall clock. A burst shorter than ``maxLag`` is analyzed in
/// full. When the pipeline is really slower than the stream, frames are thinned evenly by
/// timestamp to a rate it sustains (see ``LiveDropPolicy``).
public struct LiveSettings: Sendable, Equatable {
    /// `--max-lag` default (seconds), chosen by measurement: docs/live.md.
    public static let defaultMaxLag = 4.0

    /// Longest lag, in seconds of stream time (and of waiting on the wall clock).
    public var maxLag: Double

    public init(maxLag: Double = LiveSettings.defaultMaxLag) {
        self.maxLag = maxLag
    }
}

/// Latency (seconds from a frame's arrival to its row being written) in a fixed-size histogram:
/// memory does not grow with the stream. Bins are 1 % wide on a log scale from 1 ms to about
/// 3 hours; percentiles are accurate to 1 %, the maximum is exact.
public struct LatencyHistogram: Sendable, Equatable {
    static let floor = 0.001
    static let ratio = 1.01
    static let binCount = 1600
    private var bins = [Int](repeating: 0, count: LatencyHistogram.binCount)
    public private(set) var count = 0
    public private(set) var max = 0.0
    public private(set) var sum = 0.0

    public init() {}

    public mutating func add(_ seconds: Double) {
        let s = Swift.max(0, seconds.isFinite ? seconds : 0)
        count += 1
        sum += s
        max = Swift.max(max, s)
        bins[Self.bin(s)] += 1
    }

    static func bin(_ s: Double) -> Int {
        guard s > floor else { return 0 }
        return Swift.min(binCount - 1, 1 + Int(log(s / floor) / log(ratio)))
    }

    /// The upper edge of bin `b` (bin 0 holds everything up to 1 ms).
    static func upper(_ b: Int) -> Double { floor * pow(ratio, Double(b)) }

    /// The `q`-quantile (0…1): the smallest bin edge with at least `q` of the values at or below
    /// it, capped at the exact maximum. Nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = Swift.max(1, Int((q * Double(count)).rounded(.up)))
        var seen = 0
        for (b, n) in bins.enumerated() where n > 0 {
            seen += n
            if seen >= rank { return b == Self.binCount - 1 ? max : Swift.min(max, Self.upper(b)) }
        }
        return max
    }

    public var summary: LatencySummary {
        LatencySummary(count: count, p50: quantile(0.5), p95: quantile(0.95), max: count > 0 ? max : nil,
                       mean: count > 0 ? sum / Double(count) : nil)
    }
}

/// p50 / p95 / max latency in seconds (nil before the first frame).
public struct LatencySummary: Sendable, Equatable, Codable {
    public var count: Int
    public var p50: Double?
    public var p95: Double?
    public var max: Double?
    public var mean: Double?

    public init(count: Int = 0, p50: Double? = nil, p95: Double? = nil, max: Double? = nil, mean: Double? = nil) {
        self.count = count
        self.p50 = p50
        self.p95 = p95
        self.max = max
        self.mean = mean
    }
}

/// A snapshot of a live run's back-pressure: what was dropped, why, and how late rows are.
/// ``AnalysisPipeline/liveStats`` returns one (any thread); the sidecar, `--stats` and the
/// progress line print it.
public struct LiveStats: Sendable, Equatable {
    /// `--max-lag`, seconds.
    public var maxLag: Double
    /// Frames offered to the pipeline (decoded and taken by `--fps/--start/--end`).
    public var framesReceived = 0
    /// Frames the pipeline started to analyze.
    public var framesStarted = 0
    /// Frames thinned out evenly because the pipeline is slower than the stream.
    public var droppedThinned = 0
    /// Frames dropped because they fell more than `maxLag` behind (a burst longer than the bound,
    /// or a stall of the pipeline).
    public var droppedStale = 0
    /// Frames waiting now, and the most that ever waited.
    public var buffered = 0
    public var bufferedPeak = 0
    /// Stream seconds between the oldest waiting frame and the newest received (0 when none waits).
    public var lag = 0.0
    /// The largest such lag seen.
    public var lagPeak = 0.0
    /// The input's frame rate as received (frames per second of stream time).
    public var streamRate: Double?
    /// Frames per second the pipeline sustains, measured from its slowest stage.
    public var pipelineRate: Double?
    /// While thinning: frames per second of stream time kept; nil while every frame is kept.
    public var keepRate: Double?
    /// Analyzed frames per second of stream time over the run (the sustained rate).
    public var sustainedRate: Double?
    /// Seconds from a frame's arrival to its results being written.
    public var latency = LatencySummary()
    /// Wall seconds since the first frame arrived.
    public var elapsed = 0.0

    public init(maxLag: Double) { self.maxLag = maxLag }

    public var framesDropped: Int { droppedThinned + droppedStale }

    /// Dropped frames per minute of wall time since the first frame.
    public var dropsPerMinute: Double {
        elapsed > 0 ? Double(framesDropped) / (elapsed / 60) : 0
    }
}

/// The drop decisions of a live buffer, as a pure state machine over explicit times (tested by
/// simulation). Times: `pts` in stream seconds, `now` in monotonic wall seconds.
///
/// - **Lag clock.** Stream time with jumps removed: a step between consecutive frames that goes
///   backwards or exceeds `max(1 s, 10 frame intervals)` counts as the wall time between their
///   arrivals (at least one frame interval), so a source whose clock jumps is judged on the wall
///   clock.
/// - **Stale.** A waiting frame more than `maxLag` behind the newest (lag clock), or that has
///   waited more than `maxLag` seconds, is dropped.
/// - **Thinning.** The pipeline's rate is measured from its slowest stage's busy time per frame.
///   When it is below the stream's and the waiting frames span more than half of `maxLag` (or
///   some went stale), frames are kept by timestamp at a steady rate, starting with those already
///   waiting: 0.9 × the pipeline's rate × g, where g = 1.2 − 0.9 × lag / `maxLag` follows the
///   current lag (1.2 with nothing waiting, 0.3 at the bound). So the lag settles near a tenth of
///   `maxLag` when the measurement is right, a measurement that is off by tens of percent is
///   absorbed by the lag instead of turning into stale drops, and the rate moves smoothly: the
///   frames kept stay evenly spaced. Once that rate reaches the stream's, or the pipeline
///   measures 10 % faster than the stream, every frame is kept again.
public struct LiveDropPolicy: Sendable {
    public let maxLag: Double
    /// Lag clock of the newest frame received.
    public private(set) var newestClock: Double?
    private var lastPts: Double?
    private var lastArrival: Double?
    /// EMA of the interval between frames (stream seconds).
    public private(set) var frameInterval: Double?
    /// EMA of seconds per frame of each pipeline stage (the slowest sets the pipeline's rate).
    private var stageSeconds: [Int: Double] = [:]
    /// Frames per second of stream time kept while thinning; nil: keep all.
    public private(set) var keepRate: Double?
    private var nextKeep = -Double.infinity
    private var staleSinceAdjust = false

    public init(maxLag: Double) {
        self.maxLag = maxLag
    }

    public var streamRate: Double? { frameInterval.map { 1 / $0 } }

    /// Frames per second the slowest stage sustains, from its recent busy time per frame.
    public var pipelineRate: Double? {
        guard let slowest = stageSeconds.values.max(), slowest > 0 else { return nil }
        return 1 / slowest
    }

    /// A stage spent `seconds` busy on `frames` frames (a batch counts all its frames).
    public mutating func recordBusy(stage: Int, seconds: Double, frames: Int) {
        guard frames > 0, seconds >= 0 else { return }
        let perFrame = seconds / Double(frames)
        // Weight by frames so that a batch of 16 moves the average as 16 single frames would.
        let alpha = 1 - pow(0.9, Double(frames))
        stageSeconds[stage] = stageSeconds[stage].map { $0 + alpha * (perFrame - $0) } ?? perFrame
    }

    /// The lag clock of a frame arriving now; call once per frame, in order.
    public mutating func clock(pts: Double, now: Double) -> Double {
        defer { lastPts = pts; lastArrival = now }
        guard let lastPts, let lastArrival, let previous = newestClock else {
            newestClock = 0
            return 0
        }
        let step = pts - lastPts
        let interval = frameInterval ?? step
        let jump = step <= 0 || step > max(1, 10 * max(interval, 0.001))
        let advance: Double
        if jump {
            advance = max(interval > 0 ? interval : 0.04, now - lastArrival)
        } else {
            advance = step
            frameInterval = frameInterval.map { $0 + 0.05 * (step - $0) } ?? step
        }
        newestClock = previous + advance
        return previous + advance
    }

    /// Updates the thinning rate for a frame at lag clock `clock` arriving while the waiting
    /// frames span `lag` seconds. Returns true when thinning has just started: the caller then
    /// re-judges the waiting frames with ``keep(clock:)``, oldest first, then the new one.
    public mutating func adjust(clock: Double, lag: Double, oldestWaiting: Double?) -> Bool {
        guard let stream = streamRate, let pipe = pipelineRate else { return false }
        let rate = 0.9 * pipe * (1.2 - 0.9 * min(1, lag / maxLag))
        if keepRate == nil {
            guard pipe < stream, lag > maxLag / 2 || staleSinceAdjust else { return false }
            keepRate = max(0.05, rate)
            nextKeep = oldestWaiting ?? clock
            staleSinceAdjust = false
            return true
        }
        staleSinceAdjust = false
        keepRate = pipe >= 1.1 * stream || rate >= stream ? nil : max(0.05, rate)
        return false
    }

    /// Whether a frame at lag clock `clock` is kept (frames in order). Keeps every frame unless
    /// thinning; then one per 1/``keepRate`` seconds of stream time.
    public mutating func keep(clock: Double) -> Bool {
        guard let rate = keepRate else { return true }
        let slack = 0.25 * (frameInterval ?? 0)
        guard clock >= nextKeep - slack else { return false }
        nextKeep = max(nextKeep + 1 / rate, clock + 0.5 / rate)
        return true
    }

    /// A frame went stale: thinning must start (or bite harder).
    public mutating func noteStale() { staleSinceAdjust = true }

    /// Whether a waiting frame is stale: more than `maxLag` behind the newest, or waiting longer.
    public func isStale(clock: Double, arrival: Double, now: Double) -> Bool {
        (newestClock ?? clock) - clock > maxLag || now - arrival > maxLag
    }
}

/// The queue between a live source and the face stage: never blocks the reader, drops by
/// ``LiveDropPolicy``, and keeps the figures of ``LiveStats``.
final class LiveFrameBuffer<Element>: @unchecked Sendable {
    private struct Entry {
        let item: Element
        let clock: Double
        let arrival: Double
    }

    /// Slots before `head` are nil: a frame leaves the buffer's memory as soon as it leaves the queue.
    private var items: [Entry?] = []
    private var head = 0
    private var closed = false
    private let condition = NSCondition()
    private var policy: LiveDropPolicy
    private var stats: LiveStats
    private var firstArrival: Double?
    private var firstClock: Double?
    private var lastStartedClock: Double?
    private var histogram = LatencyHistogram()
    private let onDrop: ((Element) -> Void)?

    init(settings: LiveSettings, onDrop: ((Element) -> Void)? = nil) {
        policy = LiveDropPolicy(maxLag: settings.maxLag)
        stats = LiveStats(maxLag: settings.maxLag)
        self.onDrop = onDrop
    }

    private var waiting: Int { items.count - head }

    private func compact() {
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    private var oldest: Entry? { waiting > 0 ? items[head] : nil }

    private func removeOldest() -> Entry {
        let entry = items[head]!
        items[head] = nil
        head += 1
        return entry
    }

    private func lag(newest: Double) -> Double {
        oldest.map { newest - $0.clock } ?? 0
    }

    /// Offers a frame with stream time `pts`; never blocks. False when closed.
    @discardableResult
    func push(_ item: Element, pts: Double, now: Double = monotonicSeconds()) -> Bool {
        condition.lock()
        if closed { condition.unlock(); return false }
        var victims: [Element] = []
        let clock = policy.clock(pts: pts, now: now)
        if firstArrival == nil { firstArrival = now; firstClock = clock }
        stats.framesReceived += 1
        // Frames now more than maxLag behind the newest go first.
        while let first = oldest, policy.isStale(clock: first.clock, arrival: first.arrival, now: now) {
            victims.append(removeOldest().item)
            stats.droppedStale += 1
            policy.noteStale()
        }
        let span = oldest.map { clock - $0.clock } ?? 0
        if policy.adjust(clock: clock, lag: span, oldestWaiting: oldest?.clock) {
            // Thinning starts: the frames already waiting are thinned on the same schedule.
            var kept: [Entry?] = []
            for case let entry? in items[head...] {
                if policy.keep(clock: entry.clock) {
                    kept.append(entry)
                } else {
                    victims.append(entry.item)
                    stats.droppedThinned += 1
                }
            }
            items = kept
            head = 0
        }
        if policy.keep(clock: clock) {
            items.append(Entry(item: item, clock: clock, arrival: now))
            stats.bufferedPeak = max(stats.bufferedPeak, waiting)
            stats.lagPeak = max(stats.lagPeak, span)
            condition.broadcast()
        } else {
            victims.append(item)
            stats.droppedThinned += 1
        }
        compact()
        condition.unlock()
        if let onDrop { victims.forEach(onDrop) }
        return true
    }

    /// The oldest frame still within the bound, waiting for one; nil once closed and drained.
    func pop() -> Element? {
        condition.lock()
        var victims: [Element] = []
        defer {
            condition.unlock()
            if let onDrop { victims.forEach(onDrop) }
        }
        while true {
            while waiting == 0 {
                if closed { return nil }
                condition.wait()
            }
            if let item = takeOldest(now: monotonicSeconds(), victims: &victims) { return item }
        }
    }

    /// ``pop()`` without waiting, at a given time (simulations).
    func tryPop(now: Double) -> Element? {
        condition.lock()
        var victims: [Element] = []
        defer {
            condition.unlock()
            if let onDrop { victims.forEach(onDrop) }
        }
        return takeOldest(now: now, victims: &victims)
    }

    /// The oldest waiting frame that is not stale (stale ones go to `victims`); call locked.
    private func takeOldest(now: Double, victims: inout [Element]) -> Element? {
        while waiting > 0 {
            let entry = removeOldest()
            compact()
            if policy.isStale(clock: entry.clock, arrival: entry.arrival, now: now) {
                victims.append(entry.item)
                stats.droppedStale += 1
                policy.noteStale()
                continue
            }
            stats.framesStarted += 1
            lastStartedClock = entry.clock
            return entry.item
        }
        return nil
    }

    /// No more pushes; the consumer drains the rest and then gets nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func recordBusy(stage: Int, seconds: Double, frames: Int) {
        condition.lock()
        policy.recordBusy(stage: stage, seconds: seconds, frames: frames)
        condition.unlock()
    }

    func recordLatency(_ seconds: Double) {
        condition.lock()
        histogram.add(seconds)
        condition.unlock()
    }

    /// The figures so far (any thread).
    func snapshot(now: Double = monotonicSeconds()) -> LiveStats {
        condition.lock()
        defer { condition.unlock() }
        var s = stats
        s.buffered = waiting
        s.lag = policy.newestClock.map { lag(newest: $0) } ?? 0
        s.streamRate = policy.streamRate
        s.pipelineRate = policy.pipelineRate
        s.keepRate = policy.keepRate
        if let first = firstClock, let last = lastStartedClock, last > first {
            s.sustainedRate = Double(stats.framesStarted - 1) / (last - first)
        }
        s.latency = histogram.summary
        s.elapsed = firstArrival.map { now - $0 } ?? 0
        return s
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
