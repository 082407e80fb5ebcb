import Testing
@testable import Video

/// `ArrivalPattern` on constructed arrival times (no network): the figures follow from the
/// construction.
@Suite struct ArrivalPatternTests {
    @Test("a steady 25 fps source: no burst")
    func steady() {
        var p = ArrivalPattern()
        for i in 0 ..< 250 { p.add(pts: Double(i) / 25, arrival: 100 + Double(i) / 25) }
        #expect(abs(p.framesPerSecond! - 25) < 1e-9)
        #expect(abs(p.streamFramesPerSecond! - 25) < 1e-6)
        #expect(p.largestBurstSeconds < 1e-9)
        #expect(p.largestBurstFrames == 1)
        #expect(p.startupFrames == 1 && p.startupSeconds == 0)
        #expect(p.suggestedMaxLag == 2)
    }

    @Test("2 s of frames at once every 2 s: a burst of 50 frames, 1.96 s ahead")
    func bursts() {
        var p = ArrivalPattern()
        for i in 0 ..< 250 {
            let pts = Double(i) / 25
            // Frames of one burst arrive 1 ms apart, the burst at the end of its 2 s.
            p.add(pts: pts, arrival: ((pts / 2).rounded(.down) + 1) * 2 + Double(i % 50) * 0.001)
        }
        #expect(p.startupFrames == 50 && abs(p.startupSeconds - 49.0 / 25) < 1e-9)
        #expect(p.largestBurstFrames == 50)
        #expect(abs(p.largestBurstSeconds - (49.0 / 25 - 0.049)) < 1e-6)
        #expect(p.suggestedMaxLag == 4)
        #expect(abs(p.framesPerSecond! - 249 / (8 + 0.049)) < 1e-6)
    }

    @Test("a start-up buffer of 3 s, then steady: the start-up is reported apart")
    func startup() {
        var p = ArrivalPattern()
        for i in 0 ..< 250 {
            let pts = Double(i) / 25
            p.add(pts: pts, arrival: pts < 3 ? 3 + Double(i) * 0.001 : pts + 0.1)
        }
        #expect(p.startupFrames == 75 && abs(p.startupSeconds - 74.0 / 25) < 1e-9)
        #expect(p.largestBurstSeconds < 1e-6 && p.largestBurstFrames == 1)
    }

    @Test("a jump of the stream's clock is not a burst")
    func clockJump() {
        var p = ArrivalPattern()
        for i in 0 ..< 100 {
            let t = Double(i) / 25
            p.add(pts: i < 50 ? t : t + 3600, arrival: t)
        }
        #expect(p.largestBurstSeconds < 1e-9)
    }
}
