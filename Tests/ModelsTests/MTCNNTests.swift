import CNN
import Foundation
@testable import Models
import Testing

/// Golden: the NumPy P/R/O-Nets (tools/ref_mtcnn.py) on x[i] = ((i·7919) mod 255 − 127.5) / 128.
struct MTCNNNetsGolden: Decodable {
    struct Net: Decodable {
        let shape: [Int]
        let reg: [Double], prob: [Double]
        let landmarks: [Double]?
        let reg_shape: [Int]?
    }
    let pnet: Net, rnet: Net, onet: Net
}

func syntheticInput(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, values: (0..<n).map { Float((($0 * 7919) % 255)) / 128 - 127.5 / 128 })
}

@Suite struct MTCNNNetsTests {
    @Test func netsMatchTheNumPyReference() throws {
        let g = try golden("mtcnn_nets", as: MTCNNNetsGolden.self)
        let nets = try MTCNN(path: modelPath("mtcnn"))

        let p = nets.pnet(syntheticInput(g.pnet.shape))
        #expect(p.regression.shape == g.pnet.reg_shape)
        let dp = max(maxAbsDiff(p.regression.toArray(), g.pnet.reg), maxAbsDiff(p.probabilities.toArray(), g.pnet.prob))

        let r = nets.rnet(syntheticInput(g.rnet.shape))
        let dr = max(maxAbsDiff(r.regression.toArray(), g.rnet.reg), maxAbsDiff(r.probabilities.toArray(), g.rnet.prob))

        let o = nets.onet(syntheticInput(g.onet.shape))
        let dO = max(maxAbsDiff(o.regression.toArray(), g.onet.reg), maxAbsDiff(o.probabilities.toArray(), g.onet.prob),
                     maxAbsDiff(o.landmarks.toArray(), g.onet.landmarks ?? []))
        print("MTCNN nets parity: max |Δ| P \(dp), R \(dr), O \(dO)")
        #expect(dp <= 1e-4)
        #expect(dr <= 1e-4)
        #expect(dO <= 1e-4)
    }

    @Test func refusesAnotherArchitecture() throws {
        #expect(throws: ModelFileError.self) { try MTCNN(path: modelPath("mini-xception")) }
    }
}
