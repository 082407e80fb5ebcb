import Foundation
import Testing
@testable import Timeline

@Suite("Summary")
struct SummaryTests {
    func row(_ frame: Int, _ label: EmotionClass?, id: Int = 0) -> TimelineRow {
        let t = Double(frame) / 10
        guard let label else { return TimelineRow(frame: frame, timestamp: t, face: nil) }
        var p = [Double](repeating: 0.05, count: EmotionClass.count)
        p[label.index] = 0.7
        return TimelineRow(frame: frame, timestamp: t,
                           face: FaceEmotion(faceID: id, confidence: 1, box: FaceRect(x: 0, y: 0, width: 1, height: 1), probabilities: p))
    }

    @Test func handComputedTrack() throws {
        // 10 frames at 0.1 s: happy x4, sad x3, no face x2, happy x1.
        let labels: [EmotionClass?] = [.happy, .happy, .happy, .happy, .sad, .sad, .sad, nil, nil, .happy]
        var builder = TimelineSummaryBuilder()
        builder.add(labels.enumerated().map { row($0.offset, $0.element) })
        let s = builder.summary()
        #expect(s.frames == 10 && s.framesWithoutFace == 2)
        #expect(abs(s.noFaceShare - 0.2) < 1e-12)
        #expect(abs(s.start - 0) < 1e-12 && abs(s.end - 1.0) < 1e-12)
        let track = try #require(s.tracks.first)
        #expect(s.tracks.count == 1 && track.faceID == 0 && track.frames == 8)
        #expect(track.dominant == .happy)
        #expect(abs(track.shares[.happy]! - 5.0 / 8) < 1e-12 && abs(track.shares[.sad]! - 3.0 / 8) < 1e-12)
        #expect(track.shares[.angry] == 0)
        let expectedMean: Double = (5 * 0.7 + 3 * 0.05) / 8
        #expect(abs(track.meanProbabilities[.happy]! - expectedMean) < 1e-12)
        let expected: [(Double, Double, EmotionClass?)] = [(0, 0.4, .happy), (0.4, 0.7, .sad), (0.7, 0.9, nil), (0.9, 1.0, .happy)]
        #expect(track.segments.count == expected.count)
        for (seg, e) in zip(track.segments, expected) {
            #expect(abs(seg.start - e.0) < 1e-12 && abs(seg.end - e.1) < 1e-12 && seg.label == e.2, "\(seg)")
        }
        // happy->sad, sad->happy (across the absence): 2 changes in 1.0 s = 120 per minute.
        #expect(track.labelChanges == 2 && abs(track.labelChangesPerMinute - 120) < 1e-9)
        #expect(track.rawLabelChanges == nil)
        #expect(s.text.contains("no face in 2 (20.0%)"))
        #expect(s.text.contains("face 0: 8 frames"))
    }

    @Test func rawLabelChangesAreCounted() {
        // Smoothed label stays happy; raw flips happy/sad/happy/sad: 3 raw changes, 0 smoothed.
        var builder = TimelineSummaryBuilder()
        for i in 0..<4 {
            var r = row(i, .happy)
            r.face!.rawProbabilities = onehot(i % 2 == 0 ? .happy : .sad)
            builder.add(r)
        }
        let track = builder.summary().tracks[0]
        #expect(track.labelChanges == 0 && track.rawLabelChanges == 3)
        #expect(abs(track.rawLabelChangesPerMinute! - 3 / 0.4 * 60) < 1e-9)
    }

    @Test func noFaceAtAll() {
        var builder = TimelineSummaryBuilder()
        builder.add((0..<5).map { row($0, nil) })
        let s = builder.summary()
        #expect(s.tracks.isEmpty && s.noFaceShare == 1 && s.frames == 5)
        #expect(s.text.contains("(100.0%)"))
    }

    @Test func segmentsTileEachTrackTimeline() throws {
        var rng = LCG(seed: 21)
        var rows: [TimelineRow] = []
        var labels: [Int: EmotionClass] = [0: .neutral, 1: .happy]
        for f in 0..<300 {
            var any = false
            for id in [0, 1] where rng.next() < (id == 0 ? 0.9 : 0.5) {
                if rng.next() < 0.1 { labels[id] = EmotionClass.allCases[Int(rng.next() * 7)] }
                rows.append(row(f, labels[id]!, id: id))
                any = true
            }
            if !any { rows.append(row(f, nil)) }
        }
        var builder = TimelineSummaryBuilder()
        builder.add(rows)
        let s = builder.summary()
        #expect(s.tracks.map(\.faceID) == [0, 1])
        for track in s.tracks {
            let mine = rows.filter { $0.face?.faceID == track.faceID }
            #expect(track.frames == mine.count)
            #expect(track.segments.first!.start == mine.first!.timestamp)
            #expect(abs(track.segments.last!.end - (mine.last!.timestamp + 0.1)) < 1e-9)
            for (a, b) in zip(track.segments, track.segments.dropFirst()) {
                #expect(a.end == b.start && a.label != b.label)
            }
            #expect(track.segments.last!.label != nil)
            // Every frame of the track lies in a segment with its label; absent stretches are nil.
            for r in mine {
                let seg = track.segments.first { $0.start <= r.timestamp + 1e-9 && r.timestamp < $0.end - 1e-9 }
                #expect(seg?.label == r.face!.label, "frame \(r.frame)")
            }
            #expect(abs(track.shares.values.reduce(0, +) - 1) < 1e-12)
        }
        for track in s.tracks {
            let mine = rows.filter { $0.face?.faceID == track.faceID }.map { $0.face!.label }
            #expect(track.labelChanges == zip(mine, mine.dropFirst()).filter { $0 != $1 }.count)
        }
        let noFace = Set(rows.filter { $0.face == nil }.map(\.frame)).count
        #expect(s.framesWithoutFace == noFace)
        let decoded = try JSONDecoder().decode(TimelineSummary.self, from: s.jsonData())
        #expect(decoded == s)
    }
}
