// Padding and activation vocabulary shared by the layers, and the fused bias+activation epilogue.
import Foundation

/// Spatial padding of a convolution or pooling window.
public enum Padding: Sendable, Equatable {
    /// `p` zeros on every side (PyTorch `padding=p`).
    case symmetric(Int)
    /// Per-side padding.
    case explicit(top: Int, left: Int, bottom: Int, right: Int)
    /// TensorFlow/Keras `padding="same"`: output = ceil(input / stride); the odd pixel of the
    /// total padding goes to the bottom/right.
    case same

    /// (top, left, bottom, right) for an input of `h`×`w` and a (dilated) window `kh`×`kw`.
    func resolve(h: Int, w: Int, kh: Int, kw: Int, stride: Int, dilation: Int = 1)
        -> (top: Int, left: Int, bottom: Int, right: Int) {
        switch self {
        case .symmetric(let p): return (p, p, p, p)
        case .explicit(let t, let l, let b, let r): return (t, l, b, r)
        case .same:
            func split(_ size: Int, _ k: Int) -> (Int, Int) {
                let out = (size + stride - 1) / stride
                let total = Swift.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
                return (total / 2, total - total / 2)
            }
            let (t, b) = split(h, kh), (l, r) = split(w, kw)
            return (t, l, b, r)
        }
    }
}

/// An activation fused into a layer's epilogue.
public enum Activation: Sendable, Equatable {
    case none, relu, sigmoid

    @inline(__always) func apply(_ v: Float) -> Float {
        switch self {
        case .none: return v
        case .relu: return v > 0 ? v : 0
        case .sigmoid: return 1 / (1 + expf(-v))
        }
    }
}

/// dst[i] = act(src[i] + bias) for i < count (`dst` may equal `src`).
@inline(__always)
func biasActivation(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int,
                    bias: Float, _ act: Activation) {
    switch act {
    case .none:
        for i in 0..<count { dst[i] = src[i] + bias }
    case .relu:
        for i in 0..<count { dst[i] = Swift.max(src[i] + bias, 0) }
    case .sigmoid:
        for i in 0..<count { dst[i] = 1 / (1 + expf(-(src[i] + bias))) }
    }
}

/// dst[i] = act(src[i] + bias + res[i]) for i < count (`dst` may equal `src`).
@inline(__always)
func biasResidualActivation(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ res: UnsafePointer<Float>,
                            count: Int, bias: Float, _ act: Activation) {
    switch act {
    case .none:
        for i in 0..<count { dst[i] = src[i] + bias + res[i] }
    case .relu:
        for i in 0..<count { dst[i] = Swift.max(src[i] + bias + res[i], 0) }
    case .sigmoid:
        for i in 0..<count { dst[i] = 1 / (1 + expf(-(src[i] + bias + res[i]))) }
    }
}

@inline(__always) func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
@inline(__always) func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
