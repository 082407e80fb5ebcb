// DenseNet-161 as torchvision builds it (`torchvision/models/densenet.py`), from G. Huang, Z. Liu,
// L. van der Maaten, K. Q. Weinberger, "Densely Connected Convolutional Networks", CVPR 2017:
// growth rate 48, blocks (6, 12, 36, 24), 96 initial features, bottleneck size 4, no dropout.
//
// DBA-Net taps (section II-A): the outputs of denseblock1..3 before their transitions and
// relu(norm5(denseblock4)); C = 384, 768, 2112, 2208, strides 4/8/16/32 (384×25×25, 768×12×12,
// 2112×6×6, 2208×3×3 at 100×100).
//
// BN placement: each dense layer normalizes the concatenation of everything before it
// (pre-activation), so `norm1` and the transitions' `norm` cannot fold into a convolution's
// weights; they are applied inside the following 1×1 convolution's GEMM while B is packed
// (`Conv2d.callAsFunction(_:normalizedBy:)`). `norm0` folds into `conv0` and `norm2` into the
// dense layer's `conv1`. A block keeps its features in one buffer each layer appends to.
import CNN

/// DenseNet hyper-parameters (torchvision's constructor arguments).
struct DenseNetConfiguration {
    var growthRate: Int
    var blocks: [Int]
    var initialFeatures: Int
    var bottleneckSize: Int

    static let densenet161 = DenseNetConfiguration(growthRate: 48, blocks: [6, 12, 36, 24],
                                                   initialFeatures: 96, bottleneckSize: 4)
}

/// BN-ReLU-Conv1×1 (to bn_size·k) - BN-ReLU-Conv3×3 (to k): k new feature maps.
final class DenseLayer {
    let norm1: BatchNorm2d
    let conv1: Conv2d           // `norm2` folded in, ReLU fused
    let conv2: Conv2d

    init(_ name: String, in inChannels: Int, growthRate: Int, bottleneckSize: Int) {
        let width = bottleneckSize * growthRate
        norm1 = BatchNorm2d("\(name).norm1", channels: inChannels, activation: .relu)
        conv1 = Conv2d("\(name).conv1", in: inChannels, out: width, kernel: 1, bias: false,
                       batchNorm: "\(name).norm2", activation: .relu)
        conv2 = Conv2d("\(name).conv2", in: width, out: growthRate, kernel: 3, padding: .symmetric(1), bias: false)
    }

    var layers: [Loadable] { [norm1, conv1, conv2] }

    /// The layer's k new maps from the first `in` channels of `x` (a block's feature buffer):
    /// norm1's scale, shift and ReLU are applied inside conv1's GEMM.
    func callAsFunction(_ x: Tensor) -> Tensor { conv2(conv1(x, normalizedBy: norm1)) }
}

/// A dense block: layer ℓ sees the concatenation of the block input and layers 1..ℓ−1.
final class DenseBlock {
    let denseLayers: [DenseLayer]
    /// The block's features: its input, then each layer's k maps appended (no re-concatenation).
    private let features = ChannelStack()
    let outChannels: Int

    init(_ name: String, in inChannels: Int, count: Int, growthRate: Int, bottleneckSize: Int) {
        denseLayers = (0..<count).map { i in
            DenseLayer("\(name).denselayer\(i + 1)", in: inChannels + i * growthRate, growthRate: growthRate,
                       bottleneckSize: bottleneckSize)
        }
        outChannels = inChannels + count * growthRate
    }

    var layers: [Loadable] { denseLayers.flatMap(\.layers) }

    func callAsFunction(_ x: Tensor) -> Tensor {
        features.start(x, channels: outChannels)
        for layer in denseLayers {
            features.append(layer(features.tensor))    // reads the first C_in + ℓ·k channels
        }
        return features.tensor                         // (N, C_in + L·k, H, W)
    }
}

/// BN-ReLU-Conv1×1 (halving the channels) - AvgPool 2×2 stride 2.
final class Transition {
    let norm: BatchNorm2d
    let conv: Conv2d
    private let pool = AvgPool2d(kernel: 2, stride: 2)

    init(_ name: String, in inChannels: Int, out outChannels: Int) {
        norm = BatchNorm2d("\(name).norm", channels: inChannels, activation: .relu)
        conv = Conv2d("\(name).conv", in: inChannels, out: outChannels, kernel: 1, bias: false)
    }

    var layers: [Loadable] { [norm, conv] }

    func callAsFunction(_ x: Tensor) -> Tensor { pool(conv(x, normalizedBy: norm)) }
}

/// DenseNet (BC) with torchvision's names under `<prefix>features.*` and `<prefix>classifier`.
final class DenseNet: DBABackbone {
    let conv0: Conv2d                          // 7×7 stride 2 pad 3, `norm0` folded, ReLU
    let pool0 = MaxPool2d(kernel: 3, stride: 2, padding: .symmetric(1))
    let blocks: [DenseBlock]
    let transitions: [Transition]
    let norm5: BatchNorm2d                     // followed by ReLU in torchvision's forward
    /// Baseline head: global average pool and `classifier` (nil for the attention strategies).
    let classifier: Linear?
    private let pool = GlobalAvgPool()

    let tapChannels: [Int]

    init(prefix: String, configuration c: DenseNetConfiguration = .densenet161, classes: Int?) {
        let f = "\(prefix)features"
        conv0 = Conv2d("\(f).conv0", in: 3, out: c.initialFeatures, kernel: 7, stride: 2, padding: .symmetric(3),
                       bias: false, batchNorm: "\(f).norm0", activation: .relu)
        var channels = c.initialFeatures
        var blocks: [DenseBlock] = [], transitions: [Transition] = [], taps: [Int] = []
        for (i, count) in c.blocks.enumerated() {
            let block = DenseBlock("\(f).denseblock\(i + 1)", in: channels, count: count,
                                   growthRate: c.growthRate, bottleneckSize: c.bottleneckSize)
            blocks.append(block)
            channels = block.outChannels
            taps.append(channels)
            if i + 1 < c.blocks.count {
                transitions.append(Transition("\(f).transition\(i + 1)", in: channels, out: channels / 2))
                channels /= 2
            }
        }
        self.blocks = blocks
        self.transitions = transitions
        norm5 = BatchNorm2d("\(f).norm5", channels: channels, activation: .relu)
        tapChannels = taps
        classifier = classes.map { Linear("\(prefix)classifier", in: channels, out: $0) }
    }

    var layers: [Loadable] {
        var all: [Loadable] = [conv0]
        for (i, block) in blocks.enumerated() {
            all += block.layers
            if i < transitions.count { all += transitions[i].layers }
        }
        all.append(norm5)
        if let classifier { all.append(classifier) }
        return all
    }

    func taps(_ x: Tensor) -> [Tensor] {
        var y = pool0(conv0(x))                       // (N, 96, H/4, W/4)
        var f: [Tensor] = []
        for (i, block) in blocks.enumerated() {
            y = block(y)
            if i < transitions.count {
                f.append(y)                           // f_i: block output before its transition
                y = transitions[i](y)
            }
        }
        f.append(norm5(y))                            // f4 = relu(norm5(denseblock4))
        return f
    }

    func logits(_ x: Tensor) -> Tensor {
        guard let classifier else { preconditionFailure("DenseNet.logits: built without a head") }
        return classifier(pool(taps(x)[3]))           // (N, 2208) -> (N, K)
    }
}
