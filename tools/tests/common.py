"""Shared paths for the tools tests: the repo root, the extracted wheel files, the models."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = os.path.join(ROOT, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
CACHE = os.path.join(TOOLS, ".cache", "models")
MODELS = os.environ.get("FERVID_MODELS", os.path.join(ROOT, "models"))
SAMPLES = os.environ.get("FERVID_SAMPLES", os.path.join(ROOT, "samples"))


def cached(rel):
    """A file extracted by `make models`; fails clearly when it is missing."""
    path = os.path.join(CACHE, rel)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} missing: run `make models` first")
    return path
