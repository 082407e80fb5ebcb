import CNN
import Foundation
import Testing
@testable import Models

/// Table II's parameter counts, computed exactly (issue 4; the paper prints them in millions,
/// and prints 15.94M for VGG-16 DBA where the architecture gives 15.83M, see docs/dbanet.md).
let tableII: [String: Int] = [
    "dbanet-resnet101-baseline": 42_514_503, "dbanet-resnet101-awodb": 43_227_447,
    "dbanet-resnet101-dba": 49_193_015,
    "dbanet-densenet161-baseline": 26_487_463, "dbanet-densenet161-awodb": 27_775_261,
    "dbanet-densenet161-dba": 42_911_197,
    "dbanet-vgg16_bn-baseline": 134_297_671, "dbanet-vgg16_bn-awodb": 14_810_271,
    "dbanet-vgg16_bn-dba": 15_843_359,
    "dbanet-vgg16-baseline": 134_289_223, "dbanet-vgg16-awodb": 14_801_823,
    "dbanet-vgg16-dba": 15_834_911,
]

@Suite("DBA-Net architecture")
struct DBANetArchitectureTests {
    @Test("parameter counts equal Table II", arguments: DBANetMetadata.builtInNames)
    func parameterCount(name: String) throws {
        let metadata = try #require(DBANetMetadata.builtIn(name))
        #expect(DBANet(metadata).parameterCount == tableII[name])
    }

    @Test("all twelve built-in names")
    func builtInNames() {
        #expect(Set(DBANetMetadata.builtInNames) == Set(tableII.keys))
        #expect(DBANetMetadata.builtIn("dbanet-resnet50-dba") == nil)
    }

    @Test("checkpoint names follow torchvision and the paper")
    func names() {
        let names = Set(DBANet(backbone: .densenet161, strategy: .dba).tensorSpecs.map(\.name))
        for expected in ["backbone.features.conv0.weight", "backbone.features.norm0.running_var",
                         "backbone.features.denseblock3.denselayer36.conv2.weight",
                         "backbone.features.transition3.norm.bias", "backbone.features.norm5.weight",
                         "attention.0.fc1.weight", "attention.3.fc2.bias", "w111.weight", "w113.bias",
                         "classifier.weight"] {
            #expect(names.contains(expected), "\(expected)")
        }
        #expect(!names.contains("backbone.classifier.weight"))
        let resnet = Dictionary(uniqueKeysWithValues: DBANet(backbone: .resnet101, strategy: .baseline)
            .tensorSpecs.map { ($0.name, $0.shape) })
        #expect(resnet["backbone.layer3.22.conv3.weight"] == [1024, 256, 1, 1])
        #expect(resnet["backbone.layer2.0.downsample.0.weight"] == [512, 256, 1, 1])
        #expect(resnet["backbone.fc.weight"] == [7, 2048])
        let vgg = Dictionary(uniqueKeysWithValues: DBANet(backbone: .vgg16_bn, strategy: .dba)
            .tensorSpecs.map { ($0.name, $0.shape) })
        #expect(vgg["backbone.features.40.weight"] == [512, 512, 3, 3])     // last conv of vgg16_bn
        #expect(vgg["backbone.features.41.running_mean"] == [512])
        #expect(vgg["w111.weight"] == [128, 1408, 1, 1])                    // D = 1408 (section II-C)
        #expect(vgg["w112.weight"] == [256, 1280, 1, 1])
        #expect(vgg["w113.weight"] == [512, 1024, 1, 1])
    }
}

/// The golden file written by tools/reference/golden.py.
struct GoldenFile: Decodable {
    struct Case: Decodable {
        let backbone: String
        let strategy: String
        let parameters: Int
        let logits: [[Double]]
    }
    struct Probe: Decodable {
        let name: String
        let shape: [Int]
        let first: [Double]
    }
    let input_size: Int
    let batch: Int
    let input_probe: [Double]
    let weight_probe: Probe
    let cases: [Case]

    static func load() throws -> GoldenFile {
        let url = try #require(Bundle.module.url(forResource: "dbanet", withExtension: "json", subdirectory: "Golden"))
        return try JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: url))
    }
}

/// max |a − b| / max |b|: error relative to the logits' scale.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let scale = b.map(abs).max() ?? 0
    let diff = zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
    return scale > 0 ? diff / scale : diff
}

@Suite("DBA-Net golden parity with the PyTorch reference")
struct DBANetGoldenTests {
    @Test("the weight and input formulas match the reference's")
    func formula() throws {
        let golden = try GoldenFile.load()
        let p = golden.weight_probe
        let w = DeterministicWeights.tensor(p.name, shape: p.shape)
        #expect(Array(w.prefix(p.first.count)).map(Double.init) == p.first)
        let x = DeterministicWeights.input([1, 3, 2, 2]).toArray()
        #expect(Array(x.prefix(golden.input_probe.count)).map(Double.init) == golden.input_probe)
    }

    static let pairs: [String] = DBANetMetadata.builtInNames

    @Test("logits within 1e-4 of the reference (fast and naive paths)", arguments: pairs)
    func parity(name: String) throws {
        let golden = try GoldenFile.load()
        let metadata = try #require(DBANetMetadata.builtIn(name))
        guard let expected = golden.cases.first(where: {
            $0.backbone == metadata.backbone.rawValue && $0.strategy == metadata.strategy.rawValue
        }) else {
            Issue.record("no golden case for \(name)")
            return
        }
        let model = DBANet(metadata)
        #expect(model.parameterCount == expected.parameters)
        try model.load(WeightLoader(tensors: DeterministicWeights.weights(for: model.tensorSpecs), source: name))
        let x = DeterministicWeights.input([golden.batch, 3, golden.input_size, golden.input_size])
        let reference = expected.logits.flatMap { $0 }
        let fast = model(x)
        #expect(fast.shape == [golden.batch, 7])
        let fastError = relativeError(fast.toArray(), reference)
        #expect(fastError <= 1e-4, "\(name): relative error \(fastError)")
        if metadata.strategy != .baseline {
            let naiveError = relativeError(model.logitsNaive(x).toArray(), reference)
            #expect(naiveError <= 1e-4, "\(name) naive path: relative error \(naiveError)")
        }
        print("PARITY \(name) relative error \(String(format: "%.2e", fastError))")
    }
}

@Suite("DBA-Net strict loading and metadata")
struct DBANetLoadingTests {
    func zeros(_ specs: [TensorSpec]) -> [String: (shape: [Int], values: [Float])] {
        var all: [String: (shape: [Int], values: [Float])] = [:]
        for s in specs { all[s.name] = (s.shape, [Float](repeating: 0, count: s.count)) }
        return all
    }

    @Test("a missing tensor is named")
    func missing() throws {
        let model = DBANet(backbone: .vgg16, strategy: .awodb)
        var weights = zeros(model.tensorSpecs)
        weights["attention.2.fc1.bias"] = nil
        #expect(throws: WeightError.missing(source: "ckpt", name: "attention.2.fc1.bias", expected: [32])) {
            try model.load(WeightLoader(tensors: weights, source: "ckpt"))
        }
    }

    @Test("an unused tensor is named")
    func extra() throws {
        let model = DBANet(backbone: .vgg16, strategy: .awodb)
        var weights = zeros(model.tensorSpecs)
        weights["w111.weight"] = ([128, 1408, 1, 1], [Float](repeating: 0, count: 128 * 1408))
        #expect(throws: WeightError.unused(source: "ckpt", names: ["w111.weight"])) {
            try model.load(WeightLoader(tensors: weights, source: "ckpt"))
        }
    }

    @Test("a wrong shape names the tensor and both shapes")
    func wrongShape() throws {
        let model = DBANet(backbone: .vgg16, strategy: .dba)
        var weights = zeros(model.tensorSpecs)
        weights["w113.weight"] = ([512, 1000, 1, 1], [Float](repeating: 0, count: 512 * 1000))
        let error = WeightError.shapeMismatch(source: "ckpt", name: "w113.weight", expected: [512, 1024, 1, 1],
                                              found: [512, 1000, 1, 1])
        #expect(throws: error) { try model.load(WeightLoader(tensors: weights, source: "ckpt")) }
        #expect(error.description.contains("[512, 1000, 1, 1]") && error.description.contains("[512, 1024, 1, 1]"))
    }

    @Test("a num_batches_tracked tensor is ignored")
    func numBatchesTracked() throws {
        let model = DBANet(backbone: .vgg16_bn, strategy: .awodb)
        var weights = zeros(model.tensorSpecs)
        weights["backbone.features.1.num_batches_tracked"] = ([], [0])
        try model.load(WeightLoader(tensors: weights, source: "ckpt"))
    }

    static let good = DBANetMetadata(backbone: .resnet101, strategy: .dba).dictionary

    @Test("metadata round-trips and parses 100x100")
    func metadataRoundTrip() throws {
        var m = Self.good
        #expect(try DBANetMetadata(m, source: "x") == DBANetMetadata(backbone: .resnet101, strategy: .dba))
        m["fervid.input_size"] = "112x96"
        #expect(try DBANetMetadata(m, source: "x").inputSize == (112, 96))
    }

    @Test("bad metadata gives one line naming the file and the key",
          arguments: [("fervid.arch", "mini-xception", "'fervid.arch' is 'mini-xception'"),
                      ("fervid.backbone", "resnet50", "unknown backbone 'resnet50'"),
                      ("fervid.strategy", "se", "unknown strategy 'se'"),
                      ("fervid.input_size", "big", "'fervid.input_size' is 'big'"),
                      ("fervid.input_size", "16", "outside"),
                      ("fervid.labels", "a,,b", "'fervid.labels'"),
                      ("fervid.colour", "grey", "'fervid.colour' is 'grey'"),
                      ("fervid.mean", "0.5,0.5", "'fervid.mean'"),
                      ("fervid.std", "0.2,0,0.2", "'fervid.std' must be positive"),
                      ("fervid.labels", nil, "'fervid.labels' is missing")] as [(String, String?, String)])
    func badMetadata(key: String, value: String?, message: String) {
        var m = Self.good
        m[key] = value
        do {
            _ = try DBANetMetadata(m, source: "model.safetensors")
            Issue.record("accepted \(key) = \(value ?? "nil")")
        } catch let error as ModelFileError {
            #expect(error.description.hasPrefix("model.safetensors: "))
            #expect(error.description.contains(message), "\(error)")
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a checkpoint file builds its own architecture and matches the in-memory model")
    func fileRoundTrip() throws {
        let metadata = DBANetMetadata(backbone: .vgg16, strategy: .dba, inputSize: 64)
        let reference = DBANet(metadata)
        let weights = DeterministicWeights.weights(for: reference.tensorSpecs)
        try reference.load(WeightLoader(tensors: weights, source: "memory"))
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("dbanet-\(UInt32.random(in: 0...UInt32.max)).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeSafeTensors(path: path, tensors: reference.tensorSpecs.map { ($0.name, $0.shape, weights[$0.name]!.values) },
                             metadata: metadata.dictionary)
        let (loaded, readBack) = try DBANet.load(contentsOf: path)
        #expect(readBack == metadata)
        let x = DeterministicWeights.input([1, 3, 64, 64])
        #expect(loaded(x).toArray() == reference(x).toArray())
    }
}

