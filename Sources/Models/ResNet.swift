// ResNet-101 as torchvision builds it (`torchvision/models/resnet.py`), from K. He, X. Zhang,
// S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016: bottleneck blocks
// [3, 4, 23, 3], widths 64/128/256/512, expansion 4, the stride on the 3×3 convolution ("v1.5").
//
// DBA-Net taps (section II-A): the outputs of layer1..layer4, C = 256, 512, 1024, 2048, strides
// 4/8/16/32 (256×25×25, 512×13×13, 1024×7×7, 2048×4×4 at 100×100).
import CNN

/// Bottleneck: 1×1 → 3×3 (stride) → 1×1 (×4), each with its BN folded in; relu(out + identity).
final class Bottleneck {
    static let expansion = 4

    let conv1: Conv2d, conv2: Conv2d, conv3: Conv2d
    /// 1×1 projection with BN when the shape changes (first block of each layer).
    let downsample: Conv2d?

    init(_ name: String, in inChannels: Int, width: Int, stride: Int) {
        let out = width * Bottleneck.expansion
        conv1 = Conv2d("\(name).conv1", in: inChannels, out: width, kernel: 1, bias: false,
                       batchNorm: "\(name).bn1", activation: .relu)
        conv2 = Conv2d("\(name).conv2", in: width, out: width, kernel: 3, stride: stride, padding: .symmetric(1),
                       bias: false, batchNorm: "\(name).bn2", activation: .relu)
        conv3 = Conv2d("\(name).conv3", in: width, out: out, kernel: 1, bias: false, batchNorm: "\(name).bn3")
        downsample = (stride != 1 || inChannels != out)
            ? Conv2d("\(name).downsample.0", in: inChannels, out: out, kernel: 1, stride: stride, bias: false,
                     batchNorm: "\(name).downsample.1")
            : nil
    }

    var layers: [Loadable] { [conv1, conv2, conv3] + (downsample.map { [$0] } ?? []) }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let identity = downsample?(x) ?? x
        return conv3(conv2(conv1(x)), adding: identity, activation: .relu)   // relu(bn3(conv3) + identity)
    }
}

/// ResNet with bottleneck blocks; `blocks` = [3, 4, 23, 3] is ResNet-101.
final class ResNet: DBABackbone {
    static let resnet101 = [3, 4, 23, 3]
    static let widths = [64, 128, 256, 512]

    let conv1: Conv2d                      // 7×7 stride 2 pad 3, `bn1` folded, ReLU
    let maxpool = MaxPool2d(kernel: 3, stride: 2, padding: .symmetric(1))
    let stages: [[Bottleneck]]             // layer1..layer4
    /// Baseline head: global average pool and `fc` (nil for the attention strategies).
    let fc: Linear?
    private let pool = GlobalAvgPool()

    let tapChannels: [Int]

    init(prefix: String, blocks: [Int] = ResNet.resnet101, classes: Int?) {
        conv1 = Conv2d("\(prefix)conv1", in: 3, out: 64, kernel: 7, stride: 2, padding: .symmetric(3), bias: false,
                       batchNorm: "\(prefix)bn1", activation: .relu)
        var channels = 64
        var stages: [[Bottleneck]] = []
        for (l, (count, width)) in zip(blocks, ResNet.widths).enumerated() {
            var stage: [Bottleneck] = []
            for b in 0..<count {
                stage.append(Bottleneck("\(prefix)layer\(l + 1).\(b)", in: channels, width: width,
                                        stride: (b == 0 && l > 0) ? 2 : 1))
                channels = width * Bottleneck.expansion
            }
            stages.append(stage)
        }
        self.stages = stages
        ResNet.planOutputs(stages)
        tapChannels = ResNet.widths.map { $0 * Bottleneck.expansion }
        fc = classes.map { Linear("\(prefix)fc", in: channels, out: $0) }
    }

    /// Activations planned once (STYLE.md §13): within a block, conv1's, conv2's and the
    /// projection's outputs are dead once conv3 has run, so every block shares those three
    /// buffers; block outputs alternate between two buffers along a stage, and each stage's last
    /// block writes a buffer of its own (the tap f_i, read after the whole backbone). A block's
    /// output never shares its input's or its identity's buffer. At batch 16 and 100×100 this
    /// holds ~4.4 MB per image instead of ~15 MB with one buffer per layer.
    private static func planOutputs(_ stages: [[Bottleneck]]) {
        let temp1 = OutputSlot(), temp2 = OutputSlot(), projection = OutputSlot()
        let even = OutputSlot(), odd = OutputSlot()
        for stage in stages {
            for (b, block) in stage.enumerated() {
                block.conv1.output = temp1
                block.conv2.output = temp2
                block.downsample?.output = projection
                if b < stage.count - 1 { block.conv3.output = b % 2 == 0 ? even : odd }
            }
        }
    }

    var layers: [Loadable] {
        [conv1] + stages.flatMap { $0.flatMap(\.layers) } + (fc.map { [$0] } ?? [])
    }

    func taps(_ x: Tensor) -> [Tensor] {
        var y = maxpool(conv1(x))                      // (N, 64, H/4, W/4)
        var f: [Tensor] = []
        for stage in stages {
            for block in stage { y = block(y) }
            f.append(y)                                // f_i: output of layer i
        }
        return f
    }

    func logits(_ x: Tensor) -> Tensor {
        guard let fc else { preconditionFailure("ResNet.logits: built without a head") }
        return fc(pool(taps(x)[3]))                    // (N, 2048) -> (N, K)
    }
}
