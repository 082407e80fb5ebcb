// Naive twins: plain-loop, allocate-freely versions of every fast kernel. They are the tests'
// oracles (STYLE.md §6), written from the operations' definitions (PyTorch docs) rather than
// from the fast code's index arithmetic.
import Foundation

/// (top, left, bottom, right) padding, with TF's "same" rule written out as in the TensorFlow
/// docs (`tf.nn.convolution`): out = ⌈in / s⌉, pad_along = max((out − 1)·s + k_eff − in, 0),
/// pad_top = ⌊pad_along / 2⌋ — independent of `Padding.resolve`, which it checks.
func naivePads(_ padding: Padding, h: Int, w: Int, kh: Int, kw: Int, stride: Int, dilation: Int = 1)
    -> (top: Int, left: Int, bottom: Int, right: Int) {
    switch padding {
    case .symmetric(let p): return (p, p, p, p)
    case .explicit(let t, let l, let b, let r): return (t, l, b, r)
    case .same:
        let outH = Int((Double(h) / Double(stride)).rounded(.up))
        let outW = Int((Double(w) / Double(stride)).rounded(.up))
        let alongH = max((outH - 1) * stride + (kh - 1) * dilation + 1 - h, 0)
        let alongW = max((outW - 1) * stride + (kw - 1) * dilation + 1 - w, 0)
        return (alongH / 2, alongW / 2, alongH - alongH / 2, alongW - alongW / 2)
    }
}

/// Direct convolution: y[n, o, i, j] = b[o] + Σ x[n, c, i·s − pt + ki·d, j·s − pl + kj·d] · W[o, c', ki, kj]
/// over the input channels c of o's group (zero outside the input).
func naiveConv2d(_ x: Tensor, weight: [Float], bias: [Float]?, outChannels: Int,
                        kernel: (Int, Int), stride: Int = 1, padding: Padding = .symmetric(0),
                        dilation: Int = 1, groups: Int = 1, activation: Activation = .none) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (kh, kw) = kernel
    let p = naivePads(padding, h: h, w: w, kh: kh, kw: kw, stride: stride, dilation: dilation)
    let oh = (h + p.top + p.bottom - dilation * (kh - 1) - 1) / stride + 1
    let ow = (w + p.left + p.right - dilation * (kw - 1) - 1) / stride + 1
    let cg = c / groups, og = outChannels / groups
    precondition(weight.count == outChannels * cg * kh * kw)
    let y = Tensor(shape: [n, outChannels, oh, ow])
    for b in 0..<n {
        for o in 0..<outChannels {
            let group = o / og
            for i in 0..<oh {
                for j in 0..<ow {
                    var sum: Double = Double(bias?[o] ?? 0)
                    for cc in 0..<cg {
                        let ci = group * cg + cc
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let ih = i * stride - p.top + ki * dilation
                                let iw = j * stride - p.left + kj * dilation
                                if ih < 0 || ih >= h || iw < 0 || iw >= w { continue }
                                let xv = x.data[((b * c + ci) * h + ih) * w + iw]
                                let wv = weight[((o * cg + cc) * kh + ki) * kw + kj]
                                sum += Double(xv) * Double(wv)
                            }
                        }
                    }
                    y.data[((b * outChannels + o) * oh + i) * ow + j] = activation.apply(Float(sum))
                }
            }
        }
    }
    return y
}

/// Inference batch normalization, unfolded: (x − mean) / sqrt(var + eps) · γ + β over axis 1.
func naiveBatchNorm(_ x: Tensor, gamma: [Float], beta: [Float], mean: [Float],
                           variance: [Float], eps: Float) -> Tensor {
    let y = Tensor(shape: x.shape)
    let c = x.shape[1], size = x.count / (x.shape[0] * c)
    for i in 0..<x.count {
        let ch = (i / size) % c
        y.data[i] = (x.data[i] - mean[ch]) / (variance[ch] + eps).squareRoot() * gamma[ch] + beta[ch]
    }
    return y
}

/// y[n, o] = b[o] + Σᵢ x[n, i] · W[o, i].
func naiveLinear(_ x: Tensor, weight: [Float], bias: [Float]?, outFeatures: Int) -> Tensor {
    let n = x.shape[0], k = x.count / n
    let y = Tensor(shape: [n, outFeatures])
    for b in 0..<n {
        for o in 0..<outFeatures {
            var sum = Double(bias?[o] ?? 0)
            for i in 0..<k { sum += Double(x.data[b * k + i]) * Double(weight[o * k + i]) }
            y.data[b * outFeatures + o] = Float(sum)
        }
    }
    return y
}

/// PyTorch's pooled length: floor or ceil of (L + pads − k)/s, plus one, minus the last window
/// when `ceil` makes it start beyond the input and the leading padding.
private func naivePoolLength(_ l: Int, k: Int, s: Int, before: Int, after: Int, ceil ceilMode: Bool) -> Int {
    let q = Double(l + before + after - k) / Double(s)
    var out = Int(ceilMode ? q.rounded(.up) : q.rounded(.down)) + 1
    if ceilMode && (out - 1) * s >= l + before { out -= 1 }
    return out
}

private func naivePoolShape(_ h: Int, _ w: Int, k: Int, s: Int, padding: Padding, ceil: Bool)
    -> (oh: Int, ow: Int, t: Int, l: Int, b: Int, r: Int) {
    let p = naivePads(padding, h: h, w: w, kh: k, kw: k, stride: s)
    if padding == .same {
        return (Int((Double(h) / Double(s)).rounded(.up)), Int((Double(w) / Double(s)).rounded(.up)),
                p.top, p.left, p.bottom, p.right)
    }
    return (naivePoolLength(h, k: k, s: s, before: p.top, after: p.bottom, ceil: ceil),
            naivePoolLength(w, k: k, s: s, before: p.left, after: p.right, ceil: ceil),
            p.top, p.left, p.bottom, p.right)
}

/// Max over each k×k window; padded and overhanging positions never win (−∞).
func naiveMaxPool2d(_ x: Tensor, kernel k: Int, stride s: Int, padding: Padding = .symmetric(0),
                           ceilMode: Bool = false) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let g = naivePoolShape(h, w, k: k, s: s, padding: padding, ceil: ceilMode)
    let y = Tensor(shape: [n, c, g.oh, g.ow])
    for plane in 0..<(n * c) {
        for i in 0..<g.oh {
            for j in 0..<g.ow {
                var m = -Float.infinity
                for ki in 0..<k {
                    for kj in 0..<k {
                        let ih = i * s - g.t + ki, iw = j * s - g.l + kj
                        if ih >= 0 && ih < h && iw >= 0 && iw < w { m = max(m, x.data[(plane * h + ih) * w + iw]) }
                    }
                }
                y.data[(plane * g.oh + i) * g.ow + j] = m
            }
        }
    }
    return y
}

/// Mean over each k×k window. With `countIncludePad` the divisor counts window positions inside
/// the padded input [−pad, L + pad); without, only positions inside the input.
func naiveAvgPool2d(_ x: Tensor, kernel k: Int, stride s: Int, padding: Padding = .symmetric(0),
                           ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let g = naivePoolShape(h, w, k: k, s: s, padding: padding, ceil: ceilMode)
    let y = Tensor(shape: [n, c, g.oh, g.ow])
    for plane in 0..<(n * c) {
        for i in 0..<g.oh {
            for j in 0..<g.ow {
                var sum: Double = 0
                var inside = 0, padded = 0
                for ki in 0..<k {
                    for kj in 0..<k {
                        let ih = i * s - g.t + ki, iw = j * s - g.l + kj
                        if ih < h + g.b && iw < w + g.r { padded += 1 }
                        if ih >= 0 && ih < h && iw >= 0 && iw < w {
                            inside += 1
                            sum += Double(x.data[(plane * h + ih) * w + iw])
                        }
                    }
                }
                let d = countIncludePad ? padded : inside
                y.data[(plane * g.oh + i) * g.ow + j] = d > 0 ? Float(sum / Double(d)) : 0
            }
        }
    }
    return y
}

/// Adaptive average pooling, bins [⌊i·L/out⌋, ⌈(i+1)·L/out⌉) (PyTorch `adaptive_avg_pool2d`).
func naiveAdaptiveAvgPool2d(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = Tensor(shape: [n, c, outH, outW])
    for plane in 0..<(n * c) {
        for i in 0..<outH {
            let h0 = Int((Double(i * h) / Double(outH)).rounded(.down))
            let h1 = Int((Double((i + 1) * h) / Double(outH)).rounded(.up))
            for j in 0..<outW {
                let w0 = Int((Double(j * w) / Double(outW)).rounded(.down))
                let w1 = Int((Double((j + 1) * w) / Double(outW)).rounded(.up))
                var sum: Double = 0
                for ih in h0..<h1 { for iw in w0..<w1 { sum += Double(x.data[(plane * h + ih) * w + iw]) } }
                y.data[(plane * outH + i) * outW + j] = Float(sum / Double((h1 - h0) * (w1 - w0)))
            }
        }
    }
    return y
}

/// Softmax along `axis`, computed in Double.
func naiveSoftmax(_ x: Tensor, axis: Int = 1) -> Tensor {
    let y = Tensor(shape: x.shape)
    let outer = x.shape[..<axis].reduce(1, *), len = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
    for o in 0..<outer {
        for i in 0..<inner {
            let idx = (0..<len).map { (o * len + $0) * inner + i }
            let m = idx.map { Double(x.data[$0]) }.max()!
            let e = idx.map { exp(Double(x.data[$0]) - m) }
            let s = e.reduce(0, +)
            for (k, at) in idx.enumerated() { y.data[at] = Float(e[k] / s) }
        }
    }
    return y
}
