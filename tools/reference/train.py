"""Train DBA-Net on RAF-DB with the recipe of section III-B, evaluate, export for fervid.

  python tools/reference/train.py --data /path/to/RAF-DB/basic --backbone resnet101 --strategy dba \
      --out dbanet-resnet101-dba.safetensors

Recipe (section III-B of the paper; choices the paper leaves open are marked *):
  RAF-DB basic, single-label, 12,271 train / 3,068 test aligned 100x100 images
  augmentation: random hue and saturation (* hue +-0.1, saturation x[0.6, 1.4]), horizontal flip,
                rotation uniform in (-20, 20) degrees
  batch 64, cross-entropy ("softmax loss"), SGD momentum 0.9, weight decay 0.0005
  learning rate 0.005 with DeepLab's "poly" decay lr * (1 - step / total_steps) ** 0.9 (* power 0.9,
  per step as in DeepLab v3+), 50 epochs
  ImageNet initialisation of the backbone when torchvision's weights are on this machine
  evaluation: confusion matrix (rows = true class) and mean class accuracy = mean of the diagonal
  of the row-normalised confusion matrix
Labels are stored in fervid's order (angry, disgust, fear, happy, neutral, sad, surprise); the
RAF-DB ids are mapped by RAF_TO_FERVID.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbanet  # noqa: E402

# RAF-DB basic ids 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral.
RAF_TO_FERVID = {1: 6, 2: 2, 3: 1, 4: 3, 5: 5, 6: 0, 7: 4}


class RAFDB(Dataset):
    """RAF-DB basic: EmoLabel/list_patition_label.txt and Image/aligned/<stem>_aligned.jpg."""

    def __init__(self, root: str, split: str, transform):
        label_file = os.path.join(root, "EmoLabel", "list_patition_label.txt")
        if not os.path.isfile(label_file):
            raise SystemExit(f"error: {label_file}: not found (expected RAF-DB basic layout)")
        self.items = []
        with open(label_file) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in RAF_TO_FERVID:
                    raise SystemExit(f"error: {label_file}:{n}: expected '<name>.jpg <1..7>', got {line.strip()!r}")
                name, raf = parts[0], int(parts[1])
                if not name.startswith(split + "_"):
                    continue
                stem = os.path.splitext(name)[0]
                path = os.path.join(root, "Image", "aligned", f"{stem}_aligned.jpg")
                if not os.path.isfile(path):
                    raise SystemExit(f"error: {path}: not found (listed in {label_file}:{n})")
                self.items.append((path, RAF_TO_FERVID[raf]))
        if not self.items:
            raise SystemExit(f"error: {label_file}: no '{split}_*' images listed")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, label = self.items[i]
        with Image.open(path) as img:
            x = self.transform(img.convert("RGB"))
        return x, label


def transforms_for(size: int, train: bool):
    steps = [transforms.Resize((size, size))] if size != 100 else []
    if train:
        steps += [
            transforms.ColorJitter(saturation=0.4, hue=0.1),
            transforms.RandomHorizontalFlip(),
            transforms.RandomRotation(20),
        ]
    steps += [transforms.ToTensor(), transforms.Normalize(dbanet.IMAGENET_MEAN, dbanet.IMAGENET_STD)]
    return transforms.Compose(steps)


def imagenet_state(backbone: str, init: str) -> dict | None:
    """torchvision's ImageNet weights from a local file (never downloads), or None."""
    if init == "none":
        return None
    if init == "auto":
        import torchvision

        url = torchvision.models.get_model_weights(backbone).DEFAULT.url
        path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
        if not os.path.isfile(path):
            print(f"note: no ImageNet weights at {path}; training from random initialisation")
            return None
    else:
        path = init
    state = torch.load(path, map_location="cpu", weights_only=True)  # no arbitrary unpickling
    if backbone.startswith("densenet"):
        # torchvision's published DenseNet files use the old names "norm.1" for "norm1" etc.
        old = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
        state = {(m.group(1) + m.group(2) if (m := old.match(k)) else k): v for k, v in state.items()}
    print(f"ImageNet initialisation from {path}")
    return state


def load_imagenet(model: dbanet.DBANet, state: dict) -> None:
    own = model.backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.backbone.load_state_dict(usable, strict=False)
    skipped = sorted(set(state) - set(usable))
    print(f"  loaded {len(usable)} tensors; not used (head): {', '.join(skipped) if skipped else 'none'}")


def evaluate(model: nn.Module, loader: DataLoader, device, k: int) -> tuple[float, np.ndarray]:
    model.eval()
    cm = np.zeros((k, k), dtype=np.int64)
    with torch.no_grad():
        for x, y in loader:
            pred = model(x.to(device)).argmax(1).cpu().numpy()
            for t, p in zip(y.numpy(), pred):
                cm[t, p] += 1
    support = cm.sum(1)
    present = support > 0
    recall = np.diag(cm)[present] / support[present]
    return float(recall.mean()), cm


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="RAF-DB 'basic' directory")
    ap.add_argument("--backbone", default="resnet101", choices=dbanet.BACKBONES)
    ap.add_argument("--strategy", default="dba", choices=dbanet.STRATEGIES)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0005)
    ap.add_argument("--poly-power", type=float, default=0.9)
    ap.add_argument("--input-size", type=int, default=100)
    ap.add_argument("--init", default="auto", help="auto (torchvision cache if present) | none | PATH to a .pth")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0 = all epochs)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="safetensors checkpoint to write")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_set = RAFDB(args.data, "train", transforms_for(args.input_size, train=True))
    test_set = RAFDB(args.data, "test", transforms_for(args.input_size, train=False))
    train_loader = DataLoader(train_set, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                              drop_last=len(train_set) > args.batch)
    test_loader = DataLoader(test_set, batch_size=args.batch, num_workers=args.workers)

    model = dbanet.DBANet(args.backbone, args.strategy, num_classes=len(dbanet.LABELS))
    state = imagenet_state(args.backbone, args.init)
    if state is not None:
        load_imagenet(model, state)
    model.to(device)
    print(f"{args.backbone}/{args.strategy}: {dbanet.parameter_count(model):,} parameters; "
          f"{len(train_set)} train, {len(test_set)} test images")

    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    total = args.epochs * len(train_loader)
    if args.max_steps:
        total = min(total, args.max_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total) ** args.poly_power)
    loss_fn = nn.CrossEntropyLoss()

    step = 0
    for epoch in range(args.epochs):
        model.train()
        t0, seen, loss_sum = time.time(), 0, 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            seen += len(y)
            loss_sum += loss.item() * len(y)
            print(f"step {step}/{total} loss {loss.item():.4f} lr {scheduler.get_last_lr()[0]:.6f}", flush=True)
            if step >= total:
                break
        mca, cm = evaluate(model, test_loader, device, len(dbanet.LABELS))
        print(f"epoch {epoch + 1}: train loss {loss_sum / max(seen, 1):.4f}, test mean class accuracy "
              f"{100 * mca:.2f}% ({time.time() - t0:.0f} s)")
        if step >= total:
            break
    print("confusion matrix (rows true, columns predicted; " + ", ".join(dbanet.LABELS) + "):")
    for label, row in zip(dbanet.LABELS, cm):
        print(f"  {label:9s} " + " ".join(f"{v:5d}" for v in row))
    model.cpu().eval()
    dbanet.export(model, args.out, input_size=args.input_size)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
