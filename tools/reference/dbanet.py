"""DBA-Net in PyTorch: the independent reference for fervid's Swift models, and the model users train.

Source: C.-H. Hua, T. Huynh-The, H. Seo, S. Lee, "Convolutional Network with Densely Backward
Attention for Facial Expression Recognition", IMCOM 2020 (../../../shared/paper is the project's
copy). Section II: backbone taps f1..f4, the attentional features extractor (eqs. (1)-(4)), the
densely backward attention (eq. (5)) and the multi-level aggregation (eq. (6)).

Checkpoint names (the contract with fervid, see docs/dbanet.md):
  backbone.<torchvision state-dict name>          the backbone, torchvision's own structure
  attention.{0,1,2,3}.fc1.{weight,bias}, .fc2.*     extractor for f1..f4, eq. (3)
  w111, w112, w113 .{weight,bias}                  1x1 convolutions of eq. (5), weight (C_i, D, 1, 1)
  classifier.{weight,bias}                         linear classifier of eq. (6)
Baseline: backbone.<torchvision names of the whole network>, last layer resized to K classes.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

BACKBONES = ("vgg16", "vgg16_bn", "resnet101", "densenet161")
STRATEGIES = ("baseline", "awodb", "dba")

# Output order of every fervid classifier (the CSV column order).
LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Table I: lengths C of g_att1..g_att4 (= channels of f1..f4).
TAP_CHANNELS = {
    "vgg16": (128, 256, 512, 512),
    "vgg16_bn": (128, 256, 512, 512),
    "resnet101": (256, 512, 1024, 2048),
    "densenet161": (384, 768, 2112, 2208),
}

REDUCTION = 16  # r in section II-B


def make_backbone(name: str) -> nn.Module:
    """torchvision's network, random initialisation (ImageNet weights are loaded separately)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")
    return getattr(torchvision.models, name)(weights=None)


class AttentionExtractor(nn.Module):
    """Attentional features extractor, Fig. 2: g_att = sigmoid(W_fc2 ReLU(W_fc1 G(f) + b1) + b2)."""

    def __init__(self, channels: int, reduction: int = REDUCTION):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        g = f.mean(dim=(2, 3))                      # eqs. (1)-(2): (N, C)
        g_int = self.fc2(F.relu(self.fc1(g)))       # eq. (3)
        return torch.sigmoid(g_int)                 # eq. (4): (N, C)


class DBANet(nn.Module):
    """DBA-Net with one of three strategies: baseline, awodb (Aw/oDB) or dba (Table II)."""

    def __init__(self, backbone: str = "resnet101", strategy: str = "dba", num_classes: int = len(LABELS)):
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        self.backbone_name = backbone
        self.strategy = strategy
        self.num_classes = num_classes
        self.backbone = make_backbone(backbone)
        if strategy == "baseline":
            self._resize_head(num_classes)
            return
        self._drop_head()
        c1, c2, c3, c4 = TAP_CHANNELS[backbone]
        self.attention = nn.ModuleList(AttentionExtractor(c) for c in (c1, c2, c3, c4))
        if strategy == "dba":
            self.w113 = nn.Conv2d(c3 + c4, c3, kernel_size=1, bias=True)
            self.w112 = nn.Conv2d(c2 + c3 + c4, c2, kernel_size=1, bias=True)
            self.w111 = nn.Conv2d(c1 + c2 + c3 + c4, c1, kernel_size=1, bias=True)
        self.classifier = nn.Linear(c1 + c2 + c3 + c4, num_classes)

    # -- heads -------------------------------------------------------------------------------
    def _resize_head(self, k: int) -> None:
        b = self.backbone
        if self.backbone_name.startswith("vgg"):
            b.classifier[6] = nn.Linear(b.classifier[6].in_features, k)
        elif self.backbone_name == "resnet101":
            b.fc = nn.Linear(b.fc.in_features, k)
        else:
            b.classifier = nn.Linear(b.classifier.in_features, k)

    def _drop_head(self) -> None:
        # The attention strategies replace the backbone's head; its layers leave the checkpoint.
        b = self.backbone
        if self.backbone_name.startswith("vgg"):
            b.avgpool = nn.Identity()
            b.classifier = nn.Identity()
        elif self.backbone_name == "resnet101":
            b.fc = nn.Identity()
        else:
            b.classifier = nn.Identity()

    # -- taps f1..f4 -------------------------------------------------------------------------
    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        b = self.backbone
        if self.backbone_name.startswith("vgg"):
            # The ReLU outputs preceding the last four max-pools (section II-A).
            pools = [i for i, m in enumerate(b.features) if isinstance(m, nn.MaxPool2d)]
            out = []
            start = 0
            for p in pools[:-1]:
                x = b.features[start:p](x)
                if p in pools[-4:]:
                    out.append(x)
                x = b.features[p](x)
                start = p + 1
            out.append(b.features[start:pools[-1]](x))
            return out
        if self.backbone_name == "resnet101":
            x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
            f1 = b.layer1(x)
            f2 = b.layer2(f1)
            f3 = b.layer3(f2)
            f4 = b.layer4(f3)
            return [f1, f2, f3, f4]
        ft = b.features
        x = ft.pool0(ft.relu0(ft.norm0(ft.conv0(x))))
        f1 = ft.denseblock1(x)
        f2 = ft.denseblock2(ft.transition1(f1))
        f3 = ft.denseblock3(ft.transition2(f2))
        f4 = F.relu(ft.norm5(ft.denseblock4(ft.transition3(f3))))
        return [f1, f2, f3, f4]

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, K); softmax gives the class probabilities of eq. (6)'s classifier."""
        if self.strategy == "baseline":
            return self.backbone(x)
        f1, f2, f3, f4 = self.taps(x)
        g_att1, g_att2, g_att3, g_att4 = (a(f) for a, f in zip(self.attention, (f1, f2, f3, f4)))
        if self.strategy == "awodb":
            scales = (g_att1, g_att2, g_att3, g_att4)
        else:
            # eq. (5): higher-level attention densely recalibrates lower-level maps.
            def conv1x1(w: nn.Conv2d, gs: tuple[torch.Tensor, ...]) -> torch.Tensor:
                g = torch.cat(gs, dim=1)[:, :, None, None]          # (N, D, 1, 1)
                return w(g)[:, :, 0, 0]                              # (N, C_i)
            scales = (
                conv1x1(self.w111, (g_att1, g_att2, g_att3, g_att4)),
                conv1x1(self.w112, (g_att2, g_att3, g_att4)),
                conv1x1(self.w113, (g_att3, g_att4)),
                g_att4,
            )
        f_att = [f * s[:, :, None, None] for f, s in zip((f1, f2, f3, f4), scales)]
        f_fer = torch.cat([fa.mean(dim=(2, 3)) for fa in f_att], dim=1)   # eq. (6)
        return self.classifier(f_fer)


def checkpoint_state(model: DBANet) -> dict[str, torch.Tensor]:
    """The state dict as fervid stores it: contiguous float32, no num_batches_tracked."""
    return {
        k: v.detach().to(torch.float32).contiguous().cpu()
        for k, v in model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }


def metadata(model: DBANet, input_size: int = 100, labels=LABELS) -> dict[str, str]:
    """The safetensors `__metadata__` fervid reads to build the network (docs/dbanet.md)."""
    return {
        "fervid.arch": "dbanet",
        "fervid.backbone": model.backbone_name,
        "fervid.strategy": model.strategy,
        "fervid.input_size": f"{input_size}x{input_size}",
        "fervid.labels": ",".join(labels),
        "fervid.colour": "rgb",
        "fervid.mean": ",".join(repr(v) for v in IMAGENET_MEAN),
        "fervid.std": ",".join(repr(v) for v in IMAGENET_STD),
    }


def export(model: DBANet, path: str, input_size: int = 100, labels=LABELS) -> None:
    from safetensors.torch import save_file

    save_file(checkpoint_state(model), path, metadata=metadata(model, input_size, labels))


def load_checkpoint(path: str) -> DBANet:
    """Build the network from a checkpoint's metadata and load it strictly."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("fervid.arch") != "dbanet":
        raise ValueError(f"{path}: fervid.arch is {meta.get('fervid.arch')!r}, expected 'dbanet'")
    labels = meta["fervid.labels"].split(",")
    model = DBANet(meta["fervid.backbone"], meta["fervid.strategy"], num_classes=len(labels))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
