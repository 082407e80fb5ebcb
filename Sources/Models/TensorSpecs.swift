// The checkpoint tensors a network expects, read off its layers: parameter counts without
// weights, and the tensor list a weight generator or a converter needs.
import CNN

/// One checkpoint tensor a layer will take.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    /// False for BN running statistics (buffers, not parameters, in PyTorch's counting).
    public let trainable: Bool

    public var count: Int { shape.reduce(1, *) }
}

/// The tensors each engine layer takes, in load order (names as the layers were built).
public func tensorSpecs(of layers: [Loadable]) -> [TensorSpec] {
    var specs: [TensorSpec] = []
    func batchNorm(_ name: String, _ channels: Int) {
        specs += [TensorSpec(name: "\(name).weight", shape: [channels], trainable: true),
                  TensorSpec(name: "\(name).bias", shape: [channels], trainable: true),
                  TensorSpec(name: "\(name).running_mean", shape: [channels], trainable: false),
                  TensorSpec(name: "\(name).running_var", shape: [channels], trainable: false)]
    }
    for layer in layers {
        switch layer {
        case let c as Conv2d:
            specs.append(TensorSpec(name: "\(c.name).weight",
                                    shape: [c.outChannels, c.inChannels / c.groups, c.kernelH, c.kernelW],
                                    trainable: true))
            if c.hasBias { specs.append(TensorSpec(name: "\(c.name).bias", shape: [c.outChannels], trainable: true)) }
            if let bn = c.batchNorm { batchNorm(bn, c.outChannels) }
        case let l as Linear:
            specs.append(TensorSpec(name: "\(l.name).weight", shape: [l.outFeatures, l.inFeatures], trainable: true))
            if l.hasBias { specs.append(TensorSpec(name: "\(l.name).bias", shape: [l.outFeatures], trainable: true)) }
        case let b as BatchNorm2d:
            batchNorm(b.name, b.channels)
        case let p as PReLU:
            specs.append(TensorSpec(name: "\(p.name).weight", shape: [p.channels], trainable: true))
        default:
            preconditionFailure("tensorSpecs: no description for layer type \(type(of: layer))")
        }
    }
    return specs
}

/// Trainable parameters, counted as PyTorch's `sum(p.numel() for p in model.parameters())`.
public func parameterCount(of layers: [Loadable]) -> Int {
    tensorSpecs(of: layers).filter(\.trainable).reduce(0) { $0 + $1.count }
}
