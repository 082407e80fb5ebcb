"""A tiny synthetic dataset in RAF-DB's "basic" layout, so the recipe runs end to end here.

RAF-DB (Li & Deng, TIP 2019) basic layout, which train.py reads:
  <root>/EmoLabel/list_patition_label.txt     "train_00001.jpg 5" per line, labels 1..7
  <root>/Image/aligned/train_00001_aligned.jpg  100x100 aligned faces (also test_NNNN)
RAF-DB label ids: 1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral.

The images are not faces: each class draws a different bright shape on noise, so a few training
steps can be seen to lower the loss.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def make(root: str, train_per_class: int = 4, test_per_class: int = 2, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "EmoLabel"), exist_ok=True)
    os.makedirs(os.path.join(root, "Image", "aligned"), exist_ok=True)
    lines = []
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        n = 0
        for raf_label in range(1, 8):
            for _ in range(per_class):
                n += 1
                stem = f"{split}_{n:05d}"
                noise = rng.integers(0, 96, size=(100, 100, 3), dtype=np.uint8)
                img = Image.fromarray(noise, "RGB")
                d = ImageDraw.Draw(img)
                colour = tuple(int(c) for c in rng.integers(128, 256, size=3))
                k = raf_label
                cx, cy = 50 + int(rng.integers(-8, 9)), 50 + int(rng.integers(-8, 9))
                r = 10 + 4 * k
                if k % 3 == 0:
                    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=3 + k)
                elif k % 3 == 1:
                    d.rectangle([cx - r, cy - r // 2, cx + r, cy + r // 2], fill=colour)
                else:
                    d.line([cx - r, cy - r, cx + r, cy + r], fill=colour, width=2 + 2 * k)
                img.save(os.path.join(root, "Image", "aligned", f"{stem}_aligned.jpg"), quality=95)
                lines.append(f"{stem}.jpg {raf_label}")
    with open(os.path.join(root, "EmoLabel", "list_patition_label.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--train-per-class", type=int, default=4)
    ap.add_argument("--test-per-class", type=int, default=2)
    args = ap.parse_args()
    make(args.root, args.train_per_class, args.test_per_class)
    print(f"wrote synthetic RAF-DB basic layout under {args.root}")


if __name__ == "__main__":
    main()
