/// How a live source's frames arrive: their rate, and how far ahead of the wall clock they get
/// in bursts (an HLS segment arriving whole, a start-up buffer, a network hiccup catching up).
/// `fervid probe` measures it to help choose `--max-lag`.
///
/// ```swift
/// var pattern = ArrivalPattern()
/// while let frame = try source.nextFrame() { pattern.add(pts: frame.pts, arrival: monotonicSeconds) }
/// print(pattern.framesPerSecond, pattern.largestBurstSeconds)
/// ```
public struct ArrivalPattern: Sendable, Equatable {
    public private(set) var frames = 0
    private var firstArrival = 0.0
    private var lastArrival = 0.0
    private var lastPts = 0.0
    /// Stream time with clock jumps removed (a step backwards, or over max(1 s, 10 frames), counts
    /// as one frame interval).
    private var clock = 0.0
    private var interval: Double?
    /// min over earlier frames of (clock − arrival).
    private var minLead = Double.infinity
    private var run = 0
    private var inStartup = true
    /// The frames that were ready at once when reading began (what opening the input buffered:
    /// a start-up buffer, HLS's first segments), and the stream seconds they span.
    public private(set) var startupFrames = 0
    public private(set) var startupSeconds = 0.0
    /// After the start-up: stream seconds that arrived ahead of the wall clock in the worst burst,
    /// the largest (Δ stream time − Δ arrival time) over any stretch of frames. ≈ 0 for a steady
    /// source, ≈ 2 s for a source sending 2-s segments whole.
    public private(set) var largestBurstSeconds = 0.0
    /// After the start-up: the most frames that arrived back to back (each less than half a frame
    /// interval after the previous).
    public private(set) var largestBurstFrames = 0

    public init() {}

    /// One frame: its pts (stream seconds) and arrival (monotonic wall seconds), in order.
    public mutating func add(pts: Double, arrival: Double) {
        defer { frames += 1; lastPts = pts; lastArrival = arrival }
        guard frames > 0 else {
            firstArrival = arrival
            minLead = -arrival
            run = 1
            startupFrames = 1
            return
        }
        let step = pts - lastPts
        let typical = interval ?? step
        if step <= 0 || step > max(1, 10 * max(typical, 0.001)) {
            clock += typical > 0 ? typical : 0.04
        } else {
            clock += step
            interval = interval.map { $0 + 0.05 * (step - $0) } ?? step
        }
        let lead = clock - arrival
        let backToBack = interval.map { arrival - lastArrival < $0 / 2 } ?? true
        if inStartup {
            if backToBack {
                startupFrames += 1
                startupSeconds = clock
                return
            }
            inStartup = false
            minLead = lead
            run = 1
            largestBurstFrames = 1
            return
        }
        largestBurstSeconds = max(largestBurstSeconds, lead - minLead)
        minLead = min(minLead, lead)
        run = backToBack ? run + 1 : 1
        largestBurstFrames = max(largestBurstFrames, run)
    }

    /// Wall seconds from the first frame to the last.
    public var seconds: Double { lastArrival - firstArrival }

    /// Frames per wall second over the measurement.
    public var framesPerSecond: Double? { seconds > 0 && frames > 1 ? Double(frames - 1) / seconds : nil }

    /// The stream's own frame rate (frames per second of stream time).
    public var streamFramesPerSecond: Double? { interval.map { 1 / $0 } }

    /// A `--max-lag` that analyzes bursts like the largest seen after the start-up in full: the
    /// burst plus half again and one second, rounded up to whole seconds, at least 2. (A start-up
    /// burst longer than that loses its oldest part once, when analysis begins.)
    public var suggestedMaxLag: Double {
        max(2, (largestBurstSeconds * 1.5 + 1).rounded(.up))
    }
}
