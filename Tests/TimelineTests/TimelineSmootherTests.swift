import Foundation
import Testing
@testable import Timeline

@Suite("Multi-track smoother")
struct TimelineSmootherTests {
    /// Frames at 10 fps: face 1 in frames 0..<30, face 2 in 5..<12 and 20..<30, frame 15..<18 empty.
    func frames() -> [AnalyzedFrame] {
        var rng = LCG(seed: 11)
        return (0..<30).map { i in
            var faces: [FaceObservation] = []
            if !(15..<18).contains(i) {
                faces.append(FaceObservation(faceID: 1, confidence: 0.9, box: FaceRect(x: 1, y: 2, width: 3, height: 4),
                                             probabilities: rng.probabilities()))
                if (5..<12).contains(i) || (20..<30).contains(i) {
                    faces.append(FaceObservation(faceID: 2, confidence: 0.8, box: FaceRect(x: 5, y: 6, width: 7, height: 8),
                                                 probabilities: rng.probabilities()))
                }
            }
            return AnalyzedFrame(frame: i, timestamp: Double(i) / 8, faces: faces)  // 1/8 s: exact in binary
        }
    }

    @Test func rowsComeOutInInputOrderWithPerTrackWindowAverages() throws {
        let input = frames()
        var smoother = try TimelineSmoother(spec: .window(seconds: 0.5), live: false)
        var rows: [TimelineRow] = []
        for frame in input {
            rows += smoother.push(frame)
            // Held back by at most the lookahead (0.25 s) of stream time.
            if let last = rows.last { #expect(frame.timestamp - last.timestamp <= 0.25 + 0.125 + 1e-12) }
        }
        rows += smoother.finish()
        #expect(smoother.heldRows == 0)
        // Same rows, same order, as the input: one per face, one per empty frame.
        let expectedKeys = input.flatMap { f in f.faces.isEmpty ? [Optional<Int>.none] : f.faces.map(\.faceID) }
        let expectedFrames = input.flatMap { f in [Int](repeating: f.frame, count: max(1, f.faces.count)) }
        #expect(rows.map { $0.face?.faceID } == expectedKeys)
        #expect(rows.map(\.frame) == expectedFrames)
        // Each face row: the mean of its own track's raw vectors within +-0.25 s.
        let observations = input.flatMap { f in f.faces.map { (f.timestamp, $0) } }
        for row in rows {
            guard let face = row.face else { continue }
            let window = observations.filter { $0.1.faceID == face.faceID && abs($0.0 - row.timestamp) <= 0.25 }
            var mean = [Double](repeating: 0, count: EmotionClass.count)
            for (_, o) in window { for c in mean.indices { mean[c] += o.probabilities[c] / Double(window.count) } }
            #expect(maxAbsDifference(face.probabilities, mean) < 1e-12)
            let raw = observations.first { $0.0 == row.timestamp && $0.1.faceID == face.faceID }!.1.probabilities
            #expect(face.rawProbabilities == raw)
            #expect(abs(face.probabilities.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test func causalSmoothingReturnsEveryRowAtOnce() throws {
        var smoother = try TimelineSmoother(spec: .hmm(stay: 0.9), live: true)
        for frame in frames() {
            #expect(smoother.push(frame).count == max(1, frame.faces.count))
        }
        #expect(smoother.finish().isEmpty)
    }

    @Test func endedAndIdleTracksAreFlushedAndReset() throws {
        var smoother = try TimelineSmoother(spec: .window(seconds: 4), live: false, trackIdleTimeout: 1)
        let face = { (id: Int, p: [Double]) in FaceObservation(faceID: id, confidence: 1, box: FaceRect(x: 0, y: 0, width: 1, height: 1), probabilities: p) }
        #expect(smoother.push(AnalyzedFrame(frame: 0, timestamp: 0, faces: [face(1, onehot(.sad))])).isEmpty)
        // endTrack releases the held row; a new sample of the same id starts from scratch.
        let ended = smoother.endTrack(1)
        #expect(ended.count == 1 && ended[0].face?.probabilities == onehot(.sad))
        #expect(smoother.push(AnalyzedFrame(frame: 1, timestamp: 0.1, faces: [face(1, onehot(.happy))])).isEmpty)
        // Not seen for more than max(timeout, lookahead = 2 s): flushed without an endTrack.
        var out: [TimelineRow] = []
        var t = 0.2
        var frame = 2
        while t < 2.4 {
            out += smoother.push(AnalyzedFrame(frame: frame, timestamp: t, faces: []))
            t += 0.1
            frame += 1
        }
        #expect(out.first?.face?.probabilities == onehot(.happy), "happy alone: the ended track's sad is forgotten")
        #expect(out.count > 1)
    }

    @Test func windowOnLiveIsRefused() {
        #expect(throws: TimelineError.self) { _ = try TimelineSmoother(spec: .window(seconds: 1), live: true) }
    }
}
