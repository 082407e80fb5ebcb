import Testing
@testable import CNN

/// Deterministic random numbers (SplitMix64) so a failing case can be replayed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` values uniform in [−1, 1) with no exact zeros.
func randomValues(_ count: Int, seed: UInt64, range: ClosedRange<Float> = -1...1) -> [Float] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in
        var v: Float = 0
        while v == 0 { v = Float.random(in: range, using: &rng) }
        return v
    }
}

func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    Tensor(shape: shape, values: randomValues(shape.reduce(1, *), seed: seed))
}

/// Largest |a − b| relative to max(1, |b|), elementwise; shapes must match.
func maxError(_ a: Tensor, _ b: Tensor) -> Float {
    #expect(a.shape == b.shape)
    guard a.shape == b.shape else { return .infinity }
    var m: Float = 0
    for i in 0..<a.count {
        let d = abs(a.data[i] - b.data[i]) / max(1, abs(b.data[i]))
        if !(d <= m) { m = d.isNaN ? .infinity : d }
    }
    return m
}

/// A weight loader over in-memory tensors.
func loader(_ tensors: [String: (shape: [Int], values: [Float])]) -> WeightLoader {
    WeightLoader(tensors: tensors, source: "<test>")
}
