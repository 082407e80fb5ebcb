import Analysis
import CNN
import Models

/// MTCNN's networks as `fervid models bench` and `models run` see them (`make bench`'s
/// mtcnn-pnet, mtcnn-rnet and mtcnn-onet rows): the shipped detector weights, one network, its
/// outputs flattened per image and concatenated into one (N, K) tensor in a fixed order — P-Net
/// regression (4, H', W') then face probabilities (2, H', W'); R-Net regression (4) then
/// probabilities (2); O-Net regression (4), landmarks (10), probabilities (2) — as
/// tools/bench/mtcnn_torch.py returns them for ONNX Runtime.
enum MTCNNNetwork: String, CaseIterable {
    case pnet = "mtcnn-pnet", rnet = "mtcnn-rnet", onet = "mtcnn-onet"

    /// (C, H, W) of one input. P-Net: the largest pyramid level of a 640×360 frame at the
    /// default 20-px minimum face (scale 0.6: Int(360·0.6 + 1) × Int(640·0.6 + 1)).
    var inputShape: [Int] {
        switch self {
        case .pnet: [3, 217, 385]
        case .rnet: [3, 24, 24]
        case .onet: [3, 48, 48]
        }
    }

    /// Whether (N, C, H, W) is an input this network takes (P-Net: any H, W ≥ 12).
    func accepts(_ shape: [Int]) -> Bool {
        guard shape.count == 4, shape[0] > 0, shape[1] == 3 else { return false }
        switch self {
        case .pnet: return shape[2] >= 12 && shape[3] >= 12
        case .rnet, .onet: return Array(shape[1...]) == inputShape
        }
    }

    /// A forward pass to the concatenated (N, K) outputs, in a new tensor per call (safe to run
    /// from several threads: the networks keep their activations in the caller's workspace).
    func forward(_ nets: MTCNN) -> (Tensor) -> Tensor {
        switch self {
        case .pnet: return { x in let r = nets.pnet(x); return concat([r.regression, r.probabilities]) }
        case .rnet: return { x in let r = nets.rnet(x); return concat([r.regression, r.probabilities]) }
        case .onet: return { x in let r = nets.onet(x); return concat([r.regression, r.landmarks, r.probabilities]) }
        }
    }

    /// The shipped detector weights (`models/mtcnn.safetensors`).
    static func load() throws -> MTCNN {
        let path: String
        do {
            path = try ModelLocator.resolve(ModelLocator.detectorModel)
        } catch {
            throw CommandFailure(subject: ModelLocator.detectorModel, cause: error.description)
        }
        do {
            return try MTCNN(path: path)
        } catch {
            throw CommandFailure(subject: path, cause: "\(error)")
        }
    }
}

/// Each image's outputs flattened one after another: (N, K).
private func concat(_ parts: [Tensor]) -> Tensor {
    let n = parts[0].shape[0]
    let sizes = parts.map { $0.count / Swift.max(n, 1) }
    let k = sizes.reduce(0, +)
    let out = Tensor(shape: [n, k])
    for i in 0 ..< n {
        var offset = i * k
        for (part, size) in zip(parts, sizes) {
            (out.data + offset).update(from: part.data + i * size, count: size)
            offset += size
        }
    }
    return out
}
