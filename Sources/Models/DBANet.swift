// DBA-Net: C.-H. Hua, T. Huynh-The, H. Seo, S. Lee, "Convolutional Network with Densely Backward
// Attention for Facial Expression Recognition", IMCOM 2020, section II (Fig. 1 and 2).
//
// A backbone CNN gives four feature maps f1..f4 (section II-A). An attentional features
// extractor turns each into g_att_i (eqs. (1)-(4)); the densely backward attention recalibrates
// every f_i with the attention of its own and all deeper levels (eq. (5)); the global pools of
// the recalibrated maps are concatenated and classified (eq. (6)).
//
// Checkpoint names (docs/dbanet.md): `backbone.` + torchvision's names, `attention.{0..3}.fc1/fc2`,
// `w111`, `w112`, `w113`, `classifier`. The reference is tools/reference/dbanet.py.
import CNN

/// The backbone CNNs of Table I/II.
public enum DBANetBackbone: String, CaseIterable, Sendable {
    case vgg16, vgg16_bn, resnet101, densenet161
}

/// The three strategies of Table II.
public enum DBANetStrategy: String, CaseIterable, Sendable {
    /// The backbone fine-tuned end to end with its own head, last layer resized to K.
    case baseline
    /// Attention at every level, without the densely backward scheme: f_att_i = f_i ⊗ g_att_i.
    case awodb
    /// The full model, eq. (5).
    case dba
}

/// What a backbone offers DBA-Net: the four taps and, for the baseline, its own classifier.
protocol DBABackbone: AnyObject {
    /// Channels C of f1..f4 (Table I).
    var tapChannels: [Int] { get }
    /// Every layer with checkpoint tensors.
    var layers: [Loadable] { get }
    /// f1..f4 for a batch (N, 3, H, W): [(N, C_i, H_i, W_i)].
    func taps(_ x: Tensor) -> [Tensor]
    /// The whole backbone network (baseline strategy): logits (N, K).
    func logits(_ x: Tensor) -> Tensor
}

/// Attentional features extractor, Fig. 2: global pool → FC(C → C/r) → ReLU → FC(C/r → C) → sigmoid.
final class AttentionExtractor {
    /// r, "fixed at 16 in this work" (section II-B).
    static let reduction = 16

    private let pool = GlobalAvgPool()
    let fc1: Linear          // W_fc1 (C/r × C), b_fc1, ReLU fused
    let fc2: Linear          // W_fc2 (C × C/r), b_fc2, sigmoid fused

    init(_ name: String, channels: Int) {
        fc1 = Linear("\(name).fc1", in: channels, out: channels / AttentionExtractor.reduction, activation: .relu)
        fc2 = Linear("\(name).fc2", in: channels / AttentionExtractor.reduction, out: channels, activation: .sigmoid)
    }

    var layers: [Loadable] { [fc1, fc2] }

    /// f_i (N, C, H, W) → (g_i, g_att_i), both (N, C).
    func callAsFunction(_ f: Tensor) -> (g: Tensor, gAtt: Tensor) {
        let g = pool(f)                       // eqs. (1)-(2): g_i = G(f_i)
        let gAtt = fc2(fc1(g))                // eqs. (3)-(4): sigmoid(W_fc2 ReLU(W_fc1 g + b1) + b2)
        return (g, gAtt)
    }
}

/// A DBA-Net (or one of its ablation strategies) on a given backbone, for K classes.
///
/// Build it with ``init(backbone:strategy:classes:)``, load weights with ``load(_:)``, call it
/// on an (N, 3, H, W) batch normalized as the checkpoint's metadata says; it returns logits
/// (N, K) (``probabilities(_:)`` applies the softmax of eq. (6)'s classifier).
/// Thread-safe once loaded: the layers hold parameters only; each calling thread keeps its
/// activations in its own workspace (`CNN.Workspace`), so one instance serves any number of threads.
public final class DBANet {
    public let backbone: DBANetBackbone
    public let strategy: DBANetStrategy
    public let classes: Int

    let network: DBABackbone
    /// Extractors for f1..f4 (`attention.0` … `attention.3`); empty for the baseline.
    let attention: [AttentionExtractor]
    /// 1×1 convolutions with bias of eq. (5), weight (C_i, D, 1, 1); dba only.
    let w111: Conv2d?, w112: Conv2d?, w113: Conv2d?
    /// Linear classifier over f_fer (eq. (6)); nil for the baseline.
    let classifier: Linear?

    private let concat111 = Concat(), concat112 = Concat(), concat113 = Concat(), concatFer = Concat()
    private let recalibrate = (0..<4).map { _ in ScaleChannels() }
    private let globalPools = (0..<4).map { _ in GlobalAvgPool() }
    private let softmax = Softmax(axis: 1)

    public init(backbone: DBANetBackbone, strategy: DBANetStrategy, classes: Int = 7) {
        precondition(classes > 0, "DBANet: classes must be positive")
        self.backbone = backbone
        self.strategy = strategy
        self.classes = classes
        let head = strategy == .baseline ? classes : nil
        switch backbone {
        case .vgg16: network = VGG(prefix: "backbone.", batchNorm: false, classes: head)
        case .vgg16_bn: network = VGG(prefix: "backbone.", batchNorm: true, classes: head)
        case .resnet101: network = ResNet(prefix: "backbone.", classes: head)
        case .densenet161: network = DenseNet(prefix: "backbone.", classes: head)
        }
        guard strategy != .baseline else {
            (attention, w111, w112, w113, classifier) = ([], nil, nil, nil, nil)
            return
        }
        let c = network.tapChannels                   // Table I
        attention = c.enumerated().map { AttentionExtractor("attention.\($0.offset)", channels: $0.element) }
        if strategy == .dba {
            // D = length of the concatenated g_att vectors (section II-C).
            w113 = Conv2d("w113", in: c[2] + c[3], out: c[2], kernel: 1)
            w112 = Conv2d("w112", in: c[1] + c[2] + c[3], out: c[1], kernel: 1)
            w111 = Conv2d("w111", in: c[0] + c[1] + c[2] + c[3], out: c[0], kernel: 1)
        } else {
            (w111, w112, w113) = (nil, nil, nil)
        }
        classifier = Linear("classifier", in: c.reduce(0, +), out: classes)
    }

    /// Every layer with checkpoint tensors, backbone first.
    public var layers: [Loadable] {
        var all = network.layers
        all += attention.flatMap(\.layers)
        all += [w111, w112, w113].compactMap { $0 } as [Loadable]
        if let classifier { all.append(classifier) }
        return all
    }

    /// Loads every tensor strictly: all present with the right shapes, none left over.
    public func load(_ weights: WeightLoader) throws {
        try weights.load(layers)
        try weights.finish()
    }

    /// Logits (N, K) for a normalized batch (N, 3, H, W).
    ///
    /// Uses GAP(f ⊗ s) = GAP(f) ⊗ s for a per-channel s: the global pools of eq. (6) are the
    /// extractor's g_i scaled, so the recalibrated maps f_att_i are never materialized.
    /// ``logitsNaive(_:)`` is the literal form and this function's test oracle.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        forward(x, pooledFirst: true)
    }

    /// Logits computed as eqs. (5)-(6) are written: f_att_i = f_i ⊗ s_i, then G(f_att_i).
    func logitsNaive(_ x: Tensor) -> Tensor {
        forward(x, pooledFirst: false)
    }

    /// Class probabilities (N, K): the softmax of the logits.
    public func probabilities(_ x: Tensor) -> Tensor {
        softmax(self(x))
    }

    private func forward(_ x: Tensor, pooledFirst: Bool) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == 3, "DBANet: expects (N, 3, H, W), got \(x.shape)")
        guard let classifier else { return network.logits(x) }
        let f = network.taps(x)                                   // f1..f4
        let extracted = zip(attention, f).map { $0.0($0.1) }
        let g = extracted.map(\.g), gAtt = extracted.map(\.gAtt) // (N, C_i) each

        let s: [Tensor]                                           // per-channel scale of f_i
        switch strategy {
        case .awodb:
            s = gAtt                                              // f_att_i = f_i ⊗ g_att_i
        case .dba:
            // eq. (5)
            let n = x.shape[0]
            func conv1x1(_ w: Conv2d, _ gs: [Tensor]) -> Tensor {
                let d = gs.reduce(0) { $0 + $1.shape[1] }
                let concatenated: Tensor
                switch gs.count {
                case 4: concatenated = concat111(gs)
                case 3: concatenated = concat112(gs)
                default: concatenated = concat113(gs)
                }
                let y = w(concatenated.reshaped([n, d, 1, 1]))    // (N, C_i, 1, 1)
                return y.reshaped([n, w.outChannels])
            }
            let fAtt4Scale = gAtt[3]                                    // f_att4 = f4 ⊗ g_att4
            let fAtt3Scale = conv1x1(w113!, [gAtt[2], gAtt[3]])         // f_att3 = f3 ⊗ W113(C[g_att3, g_att4])
            let fAtt2Scale = conv1x1(w112!, [gAtt[1], gAtt[2], gAtt[3]])
            let fAtt1Scale = conv1x1(w111!, [gAtt[0], gAtt[1], gAtt[2], gAtt[3]])
            s = [fAtt1Scale, fAtt2Scale, fAtt3Scale, fAtt4Scale]
        case .baseline:
            preconditionFailure("unreachable")
        }

        // eq. (6): f_fer = C[G(f_att1), …, G(f_att4)]
        let pooled: [Tensor] = (0..<4).map { i in
            if pooledFirst {
                let n = g[i].shape[0], c = g[i].shape[1]
                return recalibrate[i](g[i].reshaped([n, c, 1, 1]), s[i]).reshaped([n, c])   // G(f_i) ⊗ s_i
            }
            let fAtt = recalibrate[i](f[i], s[i])                 // f_att_i (N, C_i, H_i, W_i)
            return globalPools[i](fAtt)
        }
        let fFer = concatFer(pooled)                              // (N, ΣC_i)
        return classifier(fFer)                                   // (N, K)
    }
}
