"""MTCNN's three networks in PyTorch, reading the shipped models/mtcnn.safetensors.

Only for `make bench`: each network becomes an ONNX graph with the same weights, so ONNX Runtime
runs exactly the networks fervid's detector runs. The structure is facenet-pytorch 2.6.0's
(`models/mtcnn.py`: P-Net, R-Net, O-Net of Zhang et al. 2016), whose names and layouts the
shipped file keeps (tools/convert_mtcnn.py), so the weights load without remapping.

For a benchmark each network returns one (N, K) tensor, its outputs flattened and concatenated
in a fixed order (fervid's `models run` writes the same): P-Net regression (4, H', W') then face
probabilities (2, H', W'); R-Net regression (4) then probabilities (2); O-Net regression (4),
landmarks (10), probabilities (2).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from safetensors.numpy import load_file

# The largest P-Net pyramid level of a 640x360 frame at the default minimum face (20 px):
# scale 12/20 = 0.6, level Int(360*0.6 + 1) x Int(640*0.6 + 1) (facenet-pytorch's rounding).
PNET_INPUT = [3, 217, 385]
RNET_INPUT = [3, 24, 24]
ONET_INPUT = [3, 48, 48]


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        a = self.softmax4_1(self.conv4_1(x))
        b = self.conv4_2(x)
        return torch.cat([b.flatten(1), a.flatten(1)], 1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        a = self.softmax5_1(self.dense5_1(x))
        b = self.dense5_2(x)
        return torch.cat([b, a], 1)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        a = self.softmax6_1(self.dense6_1(x))
        b = self.dense6_2(x)
        c = self.dense6_3(x)
        return torch.cat([b, c, a], 1)


NETWORKS = {"mtcnn-pnet": ("pnet", PNet, PNET_INPUT), "mtcnn-rnet": ("rnet", RNet, RNET_INPUT),
            "mtcnn-onet": ("onet", ONet, ONET_INPUT)}


def load(name: str, path: str) -> nn.Module:
    """One of NETWORKS from the shipped file: every tensor of that network used, shapes checked."""
    prefix, cls, _ = NETWORKS[name]
    tensors = load_file(path)
    model = cls()
    state = {k[len(prefix) + 1:]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith(prefix + ".")}
    model.load_state_dict(state, strict=True)
    return model.eval()
