@testable import CNN
import Foundation
@testable import Models
import Testing

/// A workspace's new and grown buffers are left uninitialized (no zero-fill): every layer must
/// write its whole output before anything reads it. Here each network runs in a fresh workspace
/// whose new buffers are NaN and in one whose new buffers are zero; a layer that read a value it
/// did not write would make the outputs differ (or NaN). Bit-for-bit equality, at batch sizes
/// that grow the buffers between calls.
@Suite struct PoisonedWorkspaceTests {
    /// `body`'s outputs in a NaN-poisoned and in a zero-filled fresh workspace, element by element.
    func expectSameInPoisoned(_ what: String, _ body: () -> [Tensor]) {
        let poisoned = Workspace.with(Workspace(poison: .nan)) { body().map { $0.toArray() } }
        let zeroed = Workspace.with(Workspace(poison: 0)) { body().map { $0.toArray() } }
        #expect(poisoned.count == zeroed.count)
        for (i, (p, z)) in zip(poisoned, zeroed).enumerated() {
            #expect(!p.contains { $0.isNaN }, "\(what) output \(i): NaN from an unwritten buffer")
            #expect(p.map(\.bitPattern) == z.map(\.bitPattern), "\(what) output \(i) depends on unwritten memory")
        }
    }

    @Test func mtcnnNetworks() throws {
        let nets = try MTCNN(path: modelPath("mtcnn"))
        expectSameInPoisoned("MTCNN") {
            // Small calls first, then larger ones: the slots grow (new, poisoned storage).
            var out: [Tensor] = []
            for shape in [[1, 3, 30, 40], [1, 3, 64, 90]] {
                let (reg, prob) = nets.pnet(syntheticInput(shape))
                out += [Tensor(copying: reg), Tensor(copying: prob)]
            }
            for n in [1, 5] {
                let (reg, prob) = nets.rnet(syntheticInput([n, 3, 24, 24]))
                out += [Tensor(copying: reg), Tensor(copying: prob)]
            }
            for n in [1, 3] {
                let (reg, marks, prob) = nets.onet(syntheticInput([n, 3, 48, 48]))
                out += [Tensor(copying: reg), Tensor(copying: marks), Tensor(copying: prob)]
            }
            return out
        }
    }

    @Test func miniXception() throws {
        let model = try MiniXception(path: modelPath("mini-xception"))
        expectSameInPoisoned("mini-Xception") {
            [1, 3].map { n in
                let x = Tensor(shape: [n, 1, 64, 64], values: (0..<(n * 4096)).map { Float(($0 * 7919) % 255) / 127.5 - 1 })
                return Tensor(copying: model(x))
            }
        }
    }

    @Test(arguments: ["dbanet-resnet101-dba", "dbanet-densenet161-dba", "dbanet-vgg16_bn-dba"])
    func dbaNets(name: String) throws {
        let model = DBANet(try #require(DBANetMetadata.builtIn(name)))
        try model.load(WeightLoader(tensors: DeterministicWeights.weights(for: model.tensorSpecs), source: name))
        expectSameInPoisoned(name) {
            [1, 2].map { n in Tensor(copying: model(DeterministicWeights.input([n, 3, 72, 72]))) }
        }
    }
}
