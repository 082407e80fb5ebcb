// MTCNN: Zhang, Zhang, Li, Qiao, "Joint Face Detection and Alignment using Multi-task Cascaded
// Convolutional Networks" (IEEE SPL 2016), networks as facenet-pytorch 2.6.0 defines them
// (`models/mtcnn.py`), weights converted by tools/convert_mtcnn.py. The detector algorithm that
// drives them is `Faces.MTCNNDetector`; the independent NumPy oracle is tools/ref_mtcnn.py.

import CNN

// Each conv → PReLU pair runs as one call (`Conv2d.callAsFunction(_:prelu:)`): the direct kernel
// and the Winograd output transform apply the slopes as they store their outputs, other paths
// in place after the convolution.

/// Proposal network: fully convolutional, any (N, 3, H, W) with H, W ≥ 12, normalised
/// `(x − 127.5) / 128`. One output cell per 12×12 window at stride 2.
public final class PNet {
    let conv1 = Conv2d("pnet.conv1", in: 3, out: 10, kernel: 3)
    let prelu1 = PReLU("pnet.prelu1", channels: 10)
    let pool1 = MaxPool2d(kernel: 2, stride: 2, ceilMode: true)
    let conv2 = Conv2d("pnet.conv2", in: 10, out: 16, kernel: 3)
    let prelu2 = PReLU("pnet.prelu2", channels: 16)
    let conv3 = Conv2d("pnet.conv3", in: 16, out: 32, kernel: 3)
    let prelu3 = PReLU("pnet.prelu3", channels: 32)
    let conv4_1 = Conv2d("pnet.conv4_1", in: 32, out: 2, kernel: 1)   // face / background
    let softmax4_1 = Softmax(axis: 1)
    let conv4_2 = Conv2d("pnet.conv4_2", in: 32, out: 4, kernel: 1)   // box regression

    var layers: [Loadable] { [conv1, prelu1, conv2, prelu2, conv3, prelu3, conv4_1, conv4_2] }

    /// (N, 3, H, W) -> (regression (N, 4, H', W'), probabilities (N, 2, H', W')); channel 1 of
    /// the probabilities is the face score. Both tensors are owned by the network.
    public func callAsFunction(_ x: Tensor) -> (regression: Tensor, probabilities: Tensor) {
        var y = pool1(conv1(x, prelu: prelu1))
        y = conv3(conv2(y, prelu: prelu2), prelu: prelu3)
        return (conv4_2(y), softmax4_1(conv4_1(y)))
    }
}

/// Refinement network: (N, 3, 24, 24) crops -> scores and box regression.
public final class RNet {
    let conv1 = Conv2d("rnet.conv1", in: 3, out: 28, kernel: 3)
    let prelu1 = PReLU("rnet.prelu1", channels: 28)
    let pool1 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let conv2 = Conv2d("rnet.conv2", in: 28, out: 48, kernel: 3)
    let prelu2 = PReLU("rnet.prelu2", channels: 48)
    let pool2 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let conv3 = Conv2d("rnet.conv3", in: 48, out: 64, kernel: 2)
    let prelu3 = PReLU("rnet.prelu3", channels: 64)
    // The dense layer was trained on x.permute(0, 3, 2, 1) flattened: (N, 64, 3, 3) read as (W, H, C).
    let flatten = Flatten(order: .whc)
    let dense4 = Linear("rnet.dense4", in: 576, out: 128)
    let prelu4 = PReLU("rnet.prelu4", channels: 128)
    let dense5_1 = Linear("rnet.dense5_1", in: 128, out: 2)
    let softmax5_1 = Softmax(axis: 1)
    let dense5_2 = Linear("rnet.dense5_2", in: 128, out: 4)

    var layers: [Loadable] { [conv1, prelu1, conv2, prelu2, conv3, prelu3, dense4, prelu4, dense5_1, dense5_2] }

    /// (N, 3, 24, 24) -> (regression (N, 4), probabilities (N, 2)).
    public func callAsFunction(_ x: Tensor) -> (regression: Tensor, probabilities: Tensor) {
        precondition(x.shape.count == 4 && x.shape[2] == 24 && x.shape[3] == 24, "RNet: expects (N, 3, 24, 24), got \(x.shape)")
        var y = pool1(conv1(x, prelu: prelu1))           // (N, 28, 11, 11)
        y = pool2(conv2(y, prelu: prelu2))               // (N, 48, 4, 4)
        y = conv3(y, prelu: prelu3)                      // (N, 64, 3, 3)
        let h = prelu4(dense4(flatten(y)))               // (N, 128)
        return (dense5_2(h), softmax5_1(dense5_1(h)))
    }
}

/// Output network: (N, 3, 48, 48) crops -> scores, box regression and five landmarks.
public final class ONet {
    let conv1 = Conv2d("onet.conv1", in: 3, out: 32, kernel: 3)
    let prelu1 = PReLU("onet.prelu1", channels: 32)
    let pool1 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let conv2 = Conv2d("onet.conv2", in: 32, out: 64, kernel: 3)
    let prelu2 = PReLU("onet.prelu2", channels: 64)
    let pool2 = MaxPool2d(kernel: 3, stride: 2, ceilMode: true)
    let conv3 = Conv2d("onet.conv3", in: 64, out: 64, kernel: 3)
    let prelu3 = PReLU("onet.prelu3", channels: 64)
    let pool3 = MaxPool2d(kernel: 2, stride: 2, ceilMode: true)
    let conv4 = Conv2d("onet.conv4", in: 64, out: 128, kernel: 2)
    let prelu4 = PReLU("onet.prelu4", channels: 128)
    // As R-Net: (N, 128, 3, 3) flattened in (W, H, C) order.
    let flatten = Flatten(order: .whc)
    let dense5 = Linear("onet.dense5", in: 1152, out: 256)
    let prelu5 = PReLU("onet.prelu5", channels: 256)
    let dense6_1 = Linear("onet.dense6_1", in: 256, out: 2)
    let softmax6_1 = Softmax(axis: 1)
    let dense6_2 = Linear("onet.dense6_2", in: 256, out: 4)
    let dense6_3 = Linear("onet.dense6_3", in: 256, out: 10)

    var layers: [Loadable] {
        [conv1, prelu1, conv2, prelu2, conv3, prelu3, conv4, prelu4, dense5, prelu5, dense6_1, dense6_2, dense6_3]
    }

    /// (N, 3, 48, 48) -> (regression (N, 4), landmarks (N, 10): x1…x5 then y1…y5 as fractions
    /// of the box, probabilities (N, 2)).
    public func callAsFunction(_ x: Tensor) -> (regression: Tensor, landmarks: Tensor, probabilities: Tensor) {
        precondition(x.shape.count == 4 && x.shape[2] == 48 && x.shape[3] == 48, "ONet: expects (N, 3, 48, 48), got \(x.shape)")
        var y = pool1(conv1(x, prelu: prelu1))           // (N, 32, 23, 23)
        y = pool2(conv2(y, prelu: prelu2))               // (N, 64, 10, 10)
        y = pool3(conv3(y, prelu: prelu3))               // (N, 64, 4, 4)
        y = conv4(y, prelu: prelu4)                      // (N, 128, 3, 3)
        let h = prelu5(dense5(flatten(y)))               // (N, 256)
        return (dense6_2(h), dense6_3(h), softmax6_1(dense6_1(h)))
    }
}

/// The three MTCNN networks, loaded strictly from `models/mtcnn.safetensors`.
/// Thread-safe once loaded (activations live in the calling thread's workspace).
public final class MTCNN {
    public let pnet = PNet()
    public let rnet = RNet()
    public let onet = ONet()
    /// Metadata of the loaded file (`fervid.*` keys; see docs/shipped-models.md).
    public let metadata: [String: String]

    public convenience init(path: String) throws {
        try self.init(file: SafeTensorsFile(path: path))
    }

    public init(file: SafeTensorsFile) throws {
        try requireArchitecture(file, "mtcnn")
        metadata = file.metadata
        // PyTorch names and layouts are the engine's: no remapping needed.
        let loader = WeightLoader(file)
        try loader.load(pnet.layers + rnet.layers + onet.layers)
        try loader.finish()
    }
}
