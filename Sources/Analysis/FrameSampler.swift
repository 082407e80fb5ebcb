/// Chooses which decoded frames are analyzed: `--start`/`--end` cut by timestamp, `--fps` samples
/// by timestamp (not by frame index), so the result is right for variable frame rate.
public struct FrameSampler: Sendable {
    public let start: Double?
    public let end: Double?
    public let rate: Double?
    private var nextSlot: Int64?

    public init(start: Double? = nil, end: Double? = nil, rate: Double? = nil) {
        self.start = start
        self.end = end
        self.rate = rate
    }

    public enum Decision: Sendable, Equatable { case take, skip, finished }

    /// Decides for one frame with timestamp `t` (seconds); frames must come in decode order.
    ///
    /// With a rate r, time is cut into slots [k/r, (k+1)/r) counted from `start` (or 0); the first
    /// frame whose timestamp falls in a slot not yet served is taken. A frame that skips slots
    /// (a gap in the stream) serves the slot it is in; no frame is taken twice.
    public mutating func decide(_ t: Double) -> Decision {
        if let end, t >= end { return .finished }
        if let start, t < start { return .skip }
        guard let rate else { return .take }
        let origin = start ?? 0
        // A tiny epsilon keeps frames exactly on a slot edge (t = k/r) in slot k despite rounding.
        let slot = Int64(((t - origin) * rate + 1e-6).rounded(.down))
        if let next = nextSlot, slot < next { return .skip }
        nextSlot = slot + 1
        return .take
    }
}
