import Foundation
@testable import Timeline

/// Deterministic pseudo-random numbers (64-bit LCG, Knuth's MMIX constants) so failures reproduce.
struct LCG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    /// A probability vector of `k` values, not too peaked, none below 0.01.
    mutating func probabilities(_ k: Int = EmotionClass.count) -> [Double] {
        let raw = (0..<k).map { _ in 0.05 + next() }
        let s = raw.reduce(0, +)
        return raw.map { $0 / s }
    }
}

func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// A temporary directory removed at deinit.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "fervid-timeline-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func onehot(_ c: EmotionClass) -> [Double] {
    var v = [Double](repeating: 0, count: EmotionClass.count)
    v[c.index] = 1
    return v
}
