import Foundation
import Testing
@testable import Analysis

/// The live buffer's drop policy, simulated on a virtual clock: a source delivers frames (steady,
/// or 2 s of frames at once every 2 s), a consumer takes `service` seconds per frame. No wall
/// time is involved, so these results are exact and independent of the machine's load.
@Suite struct LiveBufferTests {
    struct Run {
        var kept: [Double] = []          // pts of the frames the consumer analyzed
        var latencies: [Double] = []     // arrival -> done, seconds
        var stats: LiveStats
    }

    /// `arrivals`: (arrival time, pts) in order. The consumer starts a frame whenever it is free.
    static func simulate(_ arrivals: [(Double, Double)], service: Double, maxLag: Double) -> Run {
        let buffer = LiveFrameBuffer<(Double, Double)>(settings: LiveSettings(maxLag: maxLag))
        var run = Run(stats: LiveStats(maxLag: maxLag))
        var next = 0
        var free = 0.0
        while next < arrivals.count || buffer.snapshot(now: free).buffered > 0 {
            // Every frame that has arrived by the time the consumer is free is pushed first.
            while next < arrivals.count, arrivals[next].0 <= free {
                buffer.push(arrivals[next], pts: arrivals[next].1, now: arrivals[next].0)
                next += 1
            }
            if let frame = buffer.tryPop(now: free) {
                run.kept.append(frame.1)
                free += service
                run.latencies.append(free - frame.0)
                buffer.recordBusy(stage: 0, seconds: service, frames: 1)
                buffer.recordLatency(free - frame.0)
            } else if next < arrivals.count {
                free = max(free, arrivals[next].0)
            } else {
                break
            }
        }
        run.stats = buffer.snapshot(now: free)
        return run
    }

    static func steady(fps: Double, seconds: Double) -> [(Double, Double)] {
        (0 ..< Int(fps * seconds)).map { (Double($0) / fps, Double($0) / fps) }
    }

    /// `burst` seconds of frames delivered at once, every `burst` seconds (the first at t = burst).
    static func bursty(fps: Double, seconds: Double, burst: Double) -> [(Double, Double)] {
        (0 ..< Int(fps * seconds)).map { i in
            let pts = Double(i) / fps
            return (((pts / burst).rounded(.down) + 1) * burst, pts)
        }
    }

    static func gaps(_ pts: [Double]) -> [Double] { zip(pts, pts.dropFirst()).map { $1 - $0 } }
    static func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }

    @Test("faster than the stream: bursts within --max-lag are analyzed in full")
    func fastPipelineKeepsEveryFrameOfBursts() {
        let arrivals = Self.bursty(fps: 24, seconds: 60, burst: 2)
        let run = Self.simulate(arrivals, service: 1.0 / 60, maxLag: 4)
        #expect(run.kept.count == arrivals.count)
        #expect(run.stats.framesDropped == 0)
        #expect(run.stats.keepRate == nil)
        // A 2-s burst at 60 frames/s is done 0.8 s after it lands.
        #expect(run.latencies.max()! <= 0.8 + 1e-9)
        #expect(run.stats.bufferedPeak >= 47)
    }

    @Test("the old policy's case: a 6-s burst with --max-lag 4 keeps the newest 4 s, drops only the stale head")
    func burstLongerThanTheBoundDropsItsHead() {
        let arrivals = Self.bursty(fps: 24, seconds: 24, burst: 6)
        let run = Self.simulate(arrivals, service: 1.0 / 60, maxLag: 4)
        #expect(run.stats.droppedThinned == 0)
        #expect(run.stats.droppedStale > 0)
        // Each burst loses at most the part older than 4 s behind its newest frame (2 s + a frame).
        #expect(run.stats.droppedStale <= 4 * (2 * 24 + 1))
        #expect(run.stats.lagPeak <= 4 + 1e-9)
    }

    @Test("slower than the stream: thinned evenly, lag and latency within --max-lag", arguments: [false, true])
    func slowPipelineThinsEvenly(bursty: Bool) {
        let arrivals = bursty ? Self.bursty(fps: 24, seconds: 120, burst: 2) : Self.steady(fps: 24, seconds: 120)
        let run = Self.simulate(arrivals, service: 0.1, maxLag: 4)   // 10 frames/s against 24
        let stats = run.stats
        #expect(stats.framesDropped > 0)
        #expect(stats.droppedThinned > 0)
        #expect(run.latencies.max()! <= 4 + 0.1 + 1e-9, "latency within --max-lag plus one frame's analysis")
        #expect(stats.lagPeak <= 4 + 1e-9)
        // Sustained: close to what the consumer can do (10/s; the last frames drain after the
        // stream ends).
        let sustained = Double(run.kept.count) / 120
        #expect(sustained > 8 && sustained <= 10.2, "\(sustained) frames/s")
        // Evenly: after the first 10 s, no gap between analyzed frames exceeds 3x the typical gap
        // (keeping the newest 8 of every 2-s burst, as "drop oldest" did, gives gaps of 1.7 s).
        let steadyPart = run.kept.filter { $0 > 10 }
        let g = Self.gaps(steadyPart)
        #expect(g.max()! <= 3 * Self.median(g), "largest gap \(g.max()!) vs median \(Self.median(g))")
        // Only a few frames at the start go stale before the rate is known.
        #expect(stats.droppedStale < stats.droppedThinned / 10)
    }

    @Test("a forward jump of the source's clock is not lag")
    func clockJumpIsJudgedOnTheWallClock() {
        var arrivals = Self.steady(fps: 25, seconds: 10)
        arrivals = arrivals.map { $0.1 >= 5 ? ($0.0, $0.1 + 3600) : $0 }
        let run = Self.simulate(arrivals, service: 0.01, maxLag: 2)
        #expect(run.stats.framesDropped == 0)
        #expect(run.kept.count == arrivals.count)
    }

    @Test("latency histogram: percentiles within 1 %, exact maximum, fixed size")
    func latencyHistogram() {
        var h = LatencyHistogram()
        #expect(h.quantile(0.5) == nil)
        for i in 1 ... 1000 { h.add(Double(i) / 1000) }   // 1 ms ... 1 s
        #expect(abs(h.quantile(0.5)! - 0.5) <= 0.5 * 0.011)
        #expect(abs(h.quantile(0.95)! - 0.95) <= 0.95 * 0.011)
        #expect(h.max == 1.0 && h.count == 1000)
        h.add(50_000)  // beyond the last bin: counted, max exact
        #expect(h.max == 50_000 && h.quantile(1) == 50_000)
    }
}
