// VGG-16 and VGG-16-BN as torchvision builds them (`torchvision/models/vgg.py`), from
// K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
// Recognition", ICLR 2015, configuration "D".
//
// DBA-Net taps (section II-A): "outputs of ReLU activation layers preceding the last four
// max-pooling layers". With five pools these have strides 2/4/8/16 (128×50×50, 256×25×25,
// 512×12×12, 512×6×6 at 100×100), not the 4/8/16/32 the paper states (docs/dbanet.md).
import CNN

/// VGG configurations: output channels of each 3×3 convolution, `nil` for a 2×2 max-pool.
enum VGGConfiguration {
    /// Configuration "D" (VGG-16): 13 convolutions, 5 pools.
    static let d: [Int?] = [64, 64, nil, 128, 128, nil, 256, 256, 256, nil,
                            512, 512, 512, nil, 512, 512, 512, nil]
}

/// VGG-16 (optionally with batch normalization after every convolution).
///
/// Checkpoint names: `<prefix>features.{i}` for each convolution (and `features.{i+1}` for its
/// BN), `i` counting every module of torchvision's `features` sequence (ReLUs and pools too);
/// the baseline head is `<prefix>classifier.{0,3,6}`.
final class VGG: DBABackbone {
    private enum Stage {
        case conv(Conv2d)          // 3×3, pad 1, with its BN folded in and ReLU fused
        case pool(MaxPool2d)       // 2×2, stride 2
    }

    private let stages: [Stage]
    /// Baseline head (nil for the attention strategies, which end at the last tap).
    private let head: (pool: AdaptiveAvgPool2d, flatten: Flatten, fc: [Linear])?

    let tapChannels = [128, 256, 512, 512]   // Table I

    /// - Parameters:
    ///   - batchNorm: VGG-16-BN (`vgg16_bn`).
    ///   - classes: K for the baseline's own head; nil to stop at f4 (the last pool and the
    ///     classifier are then not part of the network).
    init(prefix: String, configuration: [Int?] = VGGConfiguration.d, batchNorm: Bool, classes: Int?) {
        var stages: [Stage] = []
        var index = 0          // position in torchvision's `features` sequence
        var channels = 3
        for entry in configuration {
            if let out = entry {
                let name = "\(prefix)features.\(index)"
                stages.append(.conv(Conv2d(name, in: channels, out: out, kernel: 3, padding: .symmetric(1),
                                           batchNorm: batchNorm ? "\(prefix)features.\(index + 1)" : nil,
                                           activation: .relu)))
                index += batchNorm ? 3 : 2            // conv, (BN,) ReLU
                channels = out
            } else {
                stages.append(.pool(MaxPool2d(kernel: 2, stride: 2)))
                index += 1
            }
        }
        if let k = classes {
            self.stages = stages
            head = (AdaptiveAvgPool2d(outH: 7, outW: 7), Flatten(order: .chw), [
                Linear("\(prefix)classifier.0", in: channels * 7 * 7, out: 4096, activation: .relu),
                Linear("\(prefix)classifier.3", in: 4096, out: 4096, activation: .relu),  // dropout: identity
                Linear("\(prefix)classifier.6", in: 4096, out: k),
            ])
        } else {
            self.stages = Array(stages.dropLast())    // f4 is the ReLU before the last pool
            head = nil
        }
    }

    var layers: [Loadable] {
        var all: [Loadable] = stages.compactMap { if case .conv(let c) = $0 { return c } else { return nil } }
        all += head?.fc ?? []
        return all
    }

    /// Runs the convolution stages; returns the final map and the ReLU outputs before each pool.
    private func features(_ x: Tensor) -> (Tensor, [Tensor]) {
        var y = x
        var beforePool: [Tensor] = []
        for stage in stages {
            switch stage {
            case .conv(let conv): y = conv(y)
            case .pool(let pool):
                beforePool.append(y)
                y = pool(y)
            }
        }
        return (y, beforePool)
    }

    func taps(_ x: Tensor) -> [Tensor] {
        precondition(head == nil, "VGG.taps: built with a baseline head")
        let (f4, beforePool) = features(x)           // stages end at the ReLU before pool 5
        return Array(beforePool.suffix(3)) + [f4]    // f1..f3: before pools 2..4
    }

    func logits(_ x: Tensor) -> Tensor {
        guard let head else { preconditionFailure("VGG.logits: built without a head") }
        var y = features(x).0                         // (N, 512, H/32, W/32)
        y = head.flatten(head.pool(y))                // (N, 25088)
        for fc in head.fc { y = fc(y) }
        return y                                      // (N, K)
    }
}
