// Swift twin of tools/reference/formula.py: weights and inputs both sides compute bit for bit,
// so golden logits need no committed checkpoint. Keep the two files identical in behaviour.
import CNN
import Models

enum DeterministicWeights {
    /// FNV-1a, 32 bits, of the UTF-8 name.
    static func seed(_ name: String) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    /// u(i) in [-1, 1): MurmurHash3's finaliser of seed XOR (i · golden ratio), top 24 bits.
    static func uniform(_ name: String, count: Int) -> [Float] {
        let s = seed(name)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                var x = s ^ (UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9)
                x ^= x >> 16
                x = x &* 0x85EB_CA6B
                x ^= x >> 13
                x = x &* 0xC2B2_AE35
                x ^= x >> 16
                buffer[i] = Float(x >> 8) * 0x1p-24 * 2 - 1
            }
            initialized = count
        }
    }

    static func isUnitGain(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        return ["w111", "w112", "w113", "classifier", "backbone.fc", "backbone.classifier",
                "backbone.classifier.6"].contains(String(name[..<dot]))
    }

    /// The value rule of formula.py for one tensor.
    static func tensor(_ name: String, shape: [Int]) -> [Float] {
        var u = uniform(name, count: shape.reduce(1, *))
        if name.hasSuffix("running_var") {
            for i in u.indices { u[i] = 1 + 0.5 * u[i] }
        } else if name.hasSuffix("running_mean") {
            for i in u.indices { u[i] = 0.1 * u[i] }
        } else if shape.count == 1 && name.hasSuffix("bn3.weight") {
            for i in u.indices { u[i] = 0.2 + 0.05 * u[i] }
        } else if shape.count == 1 && name.hasSuffix("weight") {
            for i in u.indices { u[i] = 1 + 0.25 * u[i] }
        } else if shape.count == 1 && name.hasSuffix("bias") {
            for i in u.indices { u[i] = 0.1 * u[i] }
        } else {
            let fanIn = shape.dropFirst().reduce(1, *)
            let gain = isUnitGain(name) ? 1.0 : 2.0.squareRoot()
            let scale = Float(gain * (3.0 / Double(fanIn)).squareRoot())
            for i in u.indices { u[i] *= scale }
        }
        return u
    }

    /// Every tensor a network takes, filled by the formula.
    static func weights(for specs: [TensorSpec]) -> [String: (shape: [Int], values: [Float])] {
        var all: [String: (shape: [Int], values: [Float])] = [:]
        for spec in specs { all[spec.name] = (spec.shape, tensor(spec.name, shape: spec.shape)) }
        return all
    }

    static func input(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, values: uniform("input", count: shape.reduce(1, *)))
    }
}
