import Foundation
import Testing
import TestSupport
@testable import Video

/// `FrameScaler.convertReduced(…, reusing:)` and `PixelBufferPool`: the face stage's look-ahead
/// writes each detection frame into a buffer the face thread handed back.
@Suite("Reused detection-frame buffers")
struct PixelBufferPoolTests {
    private func base(_ bytes: [UInt8]) -> UnsafeRawPointer? {
        bytes.withUnsafeBytes { $0.baseAddress }
    }

    /// Frames of the sample converted into a buffer handed back from the previous frame equal
    /// the fresh conversion (the naive twin: no reuse, its own scaler), byte for byte, on both
    /// paths — the frame's own size (a plain libswscale conversion) and half of it (box average,
    /// then libswscale) — and the buffer really is reused.
    @Test("a reused buffer gives the fresh conversion's bytes", arguments: [1, 2])
    func reusedEqualsFresh(divisor: Int) throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let source = try VideoSource(url: path)
        let scaler = FrameScaler(), fresh = FrameScaler()
        let pool = PixelBufferPool()
        var reusedCount = 0, frames = 0
        var given: UnsafeRawPointer?
        while let frame = try source.nextFrame(), frames < 12 {
            frames += 1
            let (w, h) = (frame.width / divisor, frame.height / divisor)
            // As the look-ahead does: the pool's buffer straight into the conversion.
            let image = try scaler.convertReduced(frame, to: .rgb24, width: w, height: h, reusing: pool.take())
            let expected = try fresh.convertReduced(frame, to: .rgb24, width: w, height: h)
            #expect(image == expected, "frame \(frame.index) at 1/\(divisor)")
            if let given, given == base(image.bytes) { reusedCount += 1 }
            given = base(image.bytes)
            pool.give(image.bytes)
        }
        #expect(frames == 12)
        // Every frame but the first wrote into the previous frame's buffer.
        #expect(reusedCount == frames - 1)
    }

    /// A buffer someone still holds is never written: the conversion copies first.
    @Test("a shared buffer is left alone")
    func sharedBufferUntouched() throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let source = try VideoSource(url: path)
        let scaler = FrameScaler()
        let first = try #require(try source.nextFrame())
        for _ in 0 ..< 20 { _ = try source.nextFrame() }
        let later = try #require(try source.nextFrame())
        let (w, h) = (first.width / 2, first.height / 2)
        let a = try scaler.convertReduced(first, to: .rgb24, width: w, height: h)
        let kept = a.bytes
        let b = try scaler.convertReduced(later, to: .rgb24, width: w, height: h, reusing: a.bytes)
        #expect(kept == a.bytes)
        #expect(base(kept) != base(b.bytes))
        #expect(b == (try FrameScaler().convertReduced(later, to: .rgb24, width: w, height: h)))
        #expect(b.bytes != kept, "frames 0 and 21 of the sample differ")
    }

    /// A buffer of the wrong size is not used (a fresh one is made).
    @Test("a buffer of another size is ignored")
    func wrongSizeIgnored() throws {
        guard let path = Samples.path("single_face.mp4") else { return }
        let frame = try #require(try VideoSource(url: path).nextFrame())
        let (w, h) = (frame.width / 2, frame.height / 2)
        let odd = [UInt8](repeating: 7, count: w * h * 3 - 3)
        let image = try FrameScaler().convertReduced(frame, to: .rgb24, width: w, height: h, reusing: odd)
        #expect(image.bytes.count == w * h * 3)
        #expect(image == (try FrameScaler().convertReduced(frame, to: .rgb24, width: w, height: h)))
        #expect(odd.allSatisfy { $0 == 7 })
    }

    @Test("the pool keeps at most its limit, last in first out")
    func poolLimit() {
        let pool = PixelBufferPool(limit: 2)
        #expect(pool.take() == nil)
        pool.give([1])
        pool.give([2])
        pool.give([3])
        #expect(pool.count == 2)
        #expect(pool.take() == [2])
        #expect(pool.take() == [1])
        #expect(pool.take() == nil)
    }
}
