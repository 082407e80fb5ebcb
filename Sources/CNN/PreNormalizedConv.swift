// BN-ReLU-Conv1×1 as one operation (DenseNet's pre-activation layers): the packed GEMM applies
// the per-channel scale, shift and ReLU to B while packing it, so the normalized input is never
// written, and the input may be the first channels of a wider buffer (a dense block's features).

extension Conv2d {
    /// y = conv(norm(x[:, 0 ..< inChannels])) for a 1×1, stride-1, unpadded, ungrouped
    /// convolution, where `norm` is a per-channel scale and shift with its activation (none or
    /// ReLU) and `x` is (N, C ≥ inChannels, H, W). With a packed GEMM kernel the normalization
    /// happens while B is packed; with OpenBLAS it is materialized first (same values).
    public func callAsFunction(_ x: Tensor, normalizedBy norm: BatchNorm2d) -> Tensor {
        precondition(kernelH == 1 && kernelW == 1 && stride == 1 && groups == 1 && padding == .symmetric(0),
                     "\(name): a pre-normalized call needs a 1×1, stride-1, unpadded, ungrouped convolution")
        precondition(x.shape.count == 4 && x.shape[1] >= inChannels,
                     "\(name): expects (N, ≥\(inChannels), H, W), got \(x.shape)")
        precondition(norm.channels == inChannels && (norm.activation == .none || norm.activation == .relu),
                     "\(name): \(norm.name) must normalize \(inChannels) channels with no activation or ReLU")
        let n = x.shape[0], h = x.shape[2], w = x.shape[3], p = h * w, stored = x.shape[1]
        guard let packed = currentPackedWeight() else {
            // OpenBLAS: write the normalized channels, then the plain convolution.
            let z = normalizedInput.tensor(n, inChannels, h, w)
            let xd = x.data, zd = z.data, inC = inChannels, act = norm.activation
            norm.scale.withUnsafeBufferPointer { sc in
                norm.shift.withUnsafeBufferPointer { sh in
                    parallelFor(n * inC, work: n * inC * p) { range in
                        for plane in range {
                            let img = plane / inC, c = plane % inC, s = sc[c], t = sh[c]
                            let src = xd + (img * stored + c) * p, dst = zd + plane * p
                            for i in 0..<p { dst[i] = act.apply(src[i] * s + t) }
                        }
                    }
                }
            }
            return self(z)
        }
        let y = output.tensor(n, outChannels, h, w)
        let outC = outChannels, act = activation, yd = y.data
        let fusedAct = act == .relu || act == .none
        norm.scale.withUnsafeBufferPointer { sc in
            norm.shift.withUnsafeBufferPointer { sh in
                bias.withUnsafeBufferPointer { bb in
                    var b = GemmOperandB(images: UnsafePointer(x.data), ldb: p, imageColumns: p, imageStride: stored * p)
                    b.scale = sc.baseAddress
                    b.shift = sh.baseAddress
                    b.relu = norm.activation == .relu
                    let biasP = bb.baseAddress!
                    if p >= Conv2d.batchImagesBelow {
                        // Large planes: one GEMM per image, straight into the output.
                        for img in 0..<n {
                            var bi = b
                            bi.data = UnsafePointer(x.data + img * stored * p)
                            packedGemm(packed[0], n: p, b: bi, c: yd + img * outC * p, ldc: p, bias: biasP,
                                       relu: act == .relu)
                        }
                    } else {
                        // Small planes: every image's columns in one GEMM, then into NCHW.
                        let cols = n * p
                        let c = ConvScratch.current.product.reserve(outC * cols)
                        packedGemm(packed[0], n: cols, b: b, c: c, ldc: cols, bias: biasP, relu: act == .relu)
                        parallelFor(outC, work: outC * cols) { range in
                            for co in range {
                                for img in 0..<n {
                                    (yd + (img * outC + co) * p).update(from: c + co * cols + img * p, count: p)
                                }
                            }
                        }
                    }
                }
            }
        }
        if !fusedAct {
            parallelFor(y.count, work: y.count) { range in
                for i in range { yd[i] = act.apply(yd[i]) }
            }
        }
        return y
    }
}
