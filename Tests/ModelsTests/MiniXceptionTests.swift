import CNN
import Foundation
@testable import Models
import Testing

/// Golden: tools/make_face_golden.py, fer crops of faces the NumPy MTCNN found in the samples,
/// and the NumPy mini-Xception's logits/probabilities for them (float64 reference).
struct MiniXceptionGolden: Decodable {
    struct Crop: Decodable {
        let sample: String, frame: Int, box: [Int]
        let crop: String            // base64 of 64×64 grey bytes
        let logits: [Double], probabilities: [Double]
    }
    let labels: [String]
    let crops: [Crop]
}

@Suite struct MiniXceptionTests {
    @Test func hwioToOIHWMovesEachElement() {
        // (kh=1, kw=2, in=2, out=3): v[((y*kw + x)*in + i)*out + o] = 100y + 10x... encoded as 1000*o + 100*i + x.
        var v = [Float](repeating: 0, count: 12)
        for x in 0..<2 { for i in 0..<2 { for o in 0..<3 { v[(x * 2 + i) * 3 + o] = Float(1000 * o + 100 * i + x) } } }
        let r = MiniXception.hwioToOIHW(v, [1, 2, 2, 3])
        // OIHW index ((o*in + i)*kh + 0)*kw + x
        for x in 0..<2 { for i in 0..<2 { for o in 0..<3 { #expect(r[(o * 2 + i) * 2 + x] == Float(1000 * o + 100 * i + x)) } } }
    }

    @Test func parityWithNumPyReferenceOnSampleFaceCrops() throws {
        let g = try golden("mini_xception", as: MiniXceptionGolden.self)
        #expect(g.labels == MiniXception.labels)
        #expect(g.crops.count >= 5)
        let model = try MiniXception(path: modelPath("mini-xception"))
        let side = MiniXception.inputSize
        var input: [Float] = []
        for c in g.crops {
            let bytes = try #require(Data(base64Encoded: c.crop))
            #expect(bytes.count == side * side)
            input += bytes.map { (Float($0) / 255 - 0.5) * 2 }
        }
        let x = Tensor(shape: [g.crops.count, 1, side, side], values: input)
        let logits = model.logits(x).toArray()
        let probs = model(x).toArray()
        var worstLogit = 0.0, worstProb = 0.0
        for (n, c) in g.crops.enumerated() {
            let l = Array(logits[n * 7 ..< n * 7 + 7]), p = Array(probs[n * 7 ..< n * 7 + 7])
            worstLogit = max(worstLogit, maxAbsDiff(l, c.logits))
            worstProb = max(worstProb, maxAbsDiff(p, c.probabilities))
            #expect(p.firstIndex(of: p.max()!) == c.probabilities.firstIndex(of: c.probabilities.max()!),
                    "\(c.sample) frame \(c.frame): top class differs")
        }
        print("mini-Xception parity: max |Δlogit| = \(worstLogit), max |Δprob| = \(worstProb) over \(g.crops.count) crops")
        #expect(worstLogit <= 1e-4)
        #expect(worstProb <= 1e-4)
    }

    @Test func refusesAnotherArchitecture() throws {
        #expect(throws: ModelFileError.self) { try MiniXception(path: modelPath("mtcnn")) }
    }

    @Test func refusesAWrongBNEpsilonInTheConfig() {
        let config = #"{"class_name":"Model","config":{"layers":[{"class_name":"BatchNormalization","name":"bn","config":{"epsilon":1e-5}}]}}"#
        #expect(throws: ModelFileError.self) { try MiniXception.checkKerasConfig(config, source: "test") }
    }
}
