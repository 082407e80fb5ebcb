import Foundation
import Testing
@testable import CNN

/// A 3×3 convolution with batch norm, 32 → 48, as checkpoint tensors.
private func checkpoint(seed: UInt64) -> [String: (shape: [Int], values: [Float])] {
    [
        "c.weight": ([48, 32, 3, 3], randomValues(48 * 32 * 9, seed: seed)),
        "bn.weight": ([48], randomValues(48, seed: seed + 1)),
        "bn.bias": ([48], randomValues(48, seed: seed + 2)),
        "bn.running_mean": ([48], randomValues(48, seed: seed + 3)),
        "bn.running_var": ([48], randomValues(48, seed: seed + 4, range: 0.5...2)),
    ]
}

private func conv() -> Conv2d {
    Conv2d("c", in: 32, out: 48, kernel: 3, padding: .symmetric(1), bias: false, batchNorm: "bn")
}

private func write(_ tensors: [String: (shape: [Int], values: [Float])], to path: String) throws {
    try writeSafeTensors(path: path, tensors: tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value.shape, $0.value.values) })
}

/// A Winograd layer loaded from a file keeps only its filters once it has made them (the memory
/// target of issue 16), and reads its weights again from the file, folded the same way, for
/// another shape's copy: results equal bit for bit those of a twin loaded from memory, which
/// keeps its weights.
@Test func winogradLayersFromAFileDropTheirWeightsAndReadThemAgain() throws {
    guard Engine.gemmKernel != .openBLAS else { return }
    let tensors = checkpoint(seed: 931)
    let path = NSTemporaryDirectory() + "fervid-dropped-\(UUID().uuidString).safetensors"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try write(tensors, to: path)
    let fromFile = conv(), twin = conv()
    try fromFile.load(WeightLoader(SafeTensorsFile(path: path)))
    try twin.load(loader(tensors))
    // The shapes below take F(4×4), F(2×2) and im2col (the layer's own choice, checked).
    let shapes: [(x: Tensor, path: Int?)] = [
        (randomTensor([1, 32, 16, 16], seed: 941), 4), (randomTensor([1, 32, 8, 8], seed: 942), 2),
        (randomTensor([1, 32, 2, 2], seed: 943), nil),
    ]
    #expect(!fromFile.weightDropped)
    for (x, tile) in shapes {
        #expect(fromFile.winogradTileSize(fromFile.geometry(n: 1, h: x.shape[2], w: x.shape[3])) == tile)
        #expect(maxError(fromFile(x), twin(x)) == 0, "tile \(String(describing: tile))")
        #expect(fromFile.weightDropped)
    }
    #expect(!twin.weightDropped)
    #expect(fromFile.weight == twin.weight)
}

/// The checkpoint is gone after the layer dropped its weights: it runs the filters it has (no
/// crash), within the Winograd tolerance of the naive convolution.
@Test func aDroppedLayerWhoseFileIsGoneRunsTheFiltersItHas() throws {
    guard Engine.gemmKernel != .openBLAS else { return }
    let tensors = checkpoint(seed: 951)
    let path = NSTemporaryDirectory() + "fervid-dropped-\(UUID().uuidString).safetensors"
    try write(tensors, to: path)
    let layer = conv(), twin = conv()
    try layer.load(WeightLoader(SafeTensorsFile(path: path)))
    try twin.load(loader(tensors))
    let first = randomTensor([1, 32, 16, 16], seed: 952)
    #expect(maxError(layer(first), twin(first)) == 0)
    #expect(layer.weightDropped)
    // Changed weights in the file are refused as well as a missing file: both fall back.
    try write(checkpoint(seed: 961), to: path)
    #expect(layer.canonicalWeight() == nil)
    try FileManager.default.removeItem(atPath: path)
    for x in [randomTensor([1, 32, 8, 8], seed: 953), randomTensor([1, 32, 2, 2], seed: 954)] {
        let expected = naiveConv2d(x, weight: twin.weight, bias: twin.bias, outChannels: 48, kernel: (3, 3),
                                   padding: .symmetric(1))
        #expect(maxError(layer(x), expected) < 1e-4)
    }
}
