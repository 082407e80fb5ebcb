import Faces
import Models
import Foundation
import Testing
@testable import Analysis

@Suite struct BoundedQueueTests {
    @Test func fifoAndClose() {
        let q = BoundedQueue<Int>(capacity: 3)
        #expect(q.push(1)); #expect(q.push(2))
        q.close()
        #expect(!q.push(3))
        #expect(q.pop() == 1)
        #expect(q.pop() == 2)
        #expect(q.pop() == nil)
    }

    @Test func dropOldestKeepsTheNewest() {
        let q = BoundedQueue<Int>(capacity: 3, policy: .dropOldest)
        for i in 0 ..< 10 { q.push(i) }
        #expect(q.dropped == 7)
        q.close()
        var got: [Int] = []
        while let v = q.pop() { got.append(v) }
        #expect(got == [7, 8, 9])
    }

    @Test func blockingProducerWaitsForConsumer() {
        let q = BoundedQueue<Int>(capacity: 2)
        let n = 1000
        let producer = Thread {
            for i in 0 ..< n { q.push(i) }
            q.close()
        }
        producer.start()
        var got: [Int] = []
        while let v = q.pop() {
            #expect(q.depth <= 2)
            got.append(v)
        }
        #expect(got == Array(0 ..< n))
        #expect(q.dropped == 0)
    }

    @Test func popTimesOut() {
        let q = BoundedQueue<Int>(capacity: 2)
        let (item, timedOut) = q.pop(until: Date().addingTimeInterval(0.05))
        #expect(item == nil)
        #expect(timedOut)
    }
}

@Suite struct FrameSamplerTests {
    /// Timestamps of a variable-frame-rate stream: intervals alternate 1/24 and 1/60 s.
    func vfrTimestamps(count: Int) -> [Double] {
        var t = 0.0, out: [Double] = []
        for i in 0 ..< count { out.append(t); t += i % 2 == 0 ? 1.0 / 24 : 1.0 / 60 }
        return out
    }

    @Test func rateSamplesOneFramePerSlotByTimestamp() {
        let ts = vfrTimestamps(count: 300)
        var sampler = FrameSampler(rate: 5)
        let taken = ts.filter { sampler.decide($0) == .take }
        // Independent expectation: the first frame at or after each k/5 s, for every slot with a frame.
        var expected: [Double] = []
        var k = 0
        for t in ts where t >= Double(k) / 5 - 1e-9 {
            expected.append(t)
            k = Int((t * 5 + 1e-6).rounded(.down)) + 1
        }
        #expect(taken == expected)
        // About 5 per second of stream time.
        let duration = ts.last! - ts.first!
        #expect(abs(Double(taken.count) - duration * 5) <= 1.5)
    }

    @Test func startAndEndCutByTimestamp() {
        let ts = (0 ..< 100).map { Double($0) * 0.1 }
        var sampler = FrameSampler(start: 2.0, end: 5.0)
        var taken: [Double] = []
        for t in ts {
            let d = sampler.decide(t)
            if d == .finished { break }
            if d == .take { taken.append(t) }
        }
        #expect(taken.first.map { abs($0 - 2.0) < 1e-9 } == true)
        #expect(taken.last.map { abs($0 - 4.9) < 1e-9 } == true)
        #expect(taken.count == 30)
    }
}

@Suite struct CropGeometryTests {
    @Test func ferCropIsSquarePlusTenPixels() {
        // A 40×60 box at (100, 50): square side 60 centred at (120, 80), ±10 px -> 80×80 at (80, 40).
        let rect = CropGeometry.squarePlusPixels(10).rect(
            for: FaceRect(x: 100, y: 50, width: 40, height: 60), imageWidth: 640, imageHeight: 360)
        #expect(rect.x == 80 && rect.y == 40 && rect.width == 80 && rect.height == 80)
    }

    @Test func cropIsClampedToTheImage() {
        let rect = CropGeometry.squarePlusPixels(10).rect(
            for: FaceRect(x: 0, y: 300, width: 50, height: 50), imageWidth: 640, imageHeight: 360)
        #expect(rect.x == 0 && rect.y == 290 && rect.width == 60 && rect.height == 70)
    }
}
