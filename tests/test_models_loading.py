"""Model sources: the tiny model from memory, a diffusers folder, a single original-layout
.safetensors file and the offline hub cache give the same network; broken inputs give clear,
typed errors."""

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sdedit_desktop.models.errors import (
    CorruptWeightsError,
    MissingComponentError,
    ModelError,
    ModelNotFoundError,
    ModelOutOfMemoryError,
    PickleRefusedError,
    WrongCheckpointError,
)
from sdedit_desktop.models.interface import LatentDiffusionModel, ModelSpec
from sdedit_desktop.models.loading import load_model
from sdedit_desktop.models.tiny import save_tiny_model, tiny_ldm_state_dict


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    folder = save_tiny_model(root / "tiny-folder")
    single = root / "tiny.safetensors"
    save_file(tiny_ldm_state_dict(), str(single))
    return folder, single


def _outputs(model):
    gen = torch.Generator().manual_seed(3)
    latent = torch.randn(2, 4, 8, 8, generator=gen)
    image = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    embeds = model.encode_prompt("a photo of a cat")
    return (model.predict_noise(latent, torch.tensor([10, 900]), embeds),
            model.encode_image(image), model.decode_latent(latent[:1]), embeds)


def test_folder_single_file_and_memory_give_identical_models(make_tiny_model, tiny_files):
    folder, single = tiny_files
    memory = make_tiny_model(0)
    from_folder = load_model(ModelSpec(str(folder)))
    from_file = load_model(ModelSpec(str(single)), config_dir=folder)
    reference = _outputs(memory)
    for model in (from_folder, from_file):
        assert isinstance(model, LatentDiffusionModel)
        for got, want in zip(_outputs(model), reference, strict=True):
            assert torch.equal(got, want)
    assert from_folder.identity.kind == "folder" and from_folder.identity.sha256
    assert from_file.identity.kind == "single-file"
    assert from_file.identity.sha256 == hashlib.sha256(single.read_bytes()).hexdigest()
    assert memory.vae_scale_factor == 8 and reference[1].shape == (1, 4, 8, 8)


def _fake_hub_snapshot(folder: Path, repo_id: str, commit: str = "a" * 40) -> Path:
    """The standard HF cache layout: blobs named by content, snapshot links, refs/main."""
    repo = Path(os.environ["HF_HUB_CACHE"]) / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / commit
    for file in folder.rglob("*"):
        if file.is_file():
            target = snap / file.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snap


def test_hub_id_loads_offline_from_the_cache(make_tiny_model, tiny_files):
    folder, _ = tiny_files
    snap = _fake_hub_snapshot(folder, "someone/tiny-sd")
    model = load_model(ModelSpec("someone/tiny-sd"))
    assert model.identity.kind == "hub" and model.identity.revision == "a" * 40
    for got, want in zip(_outputs(model), _outputs(make_tiny_model(0)), strict=True):
        assert torch.equal(got, want)
    # An incomplete snapshot names the missing file and says how to finish it.
    (snap / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(MissingComponentError) as info:
        load_model(ModelSpec("someone/tiny-sd"))
    assert "vae/diffusion_pytorch_model.safetensors" in str(info.value)
    assert "sdedit models download someone/tiny-sd" in str(info.value)


def test_hub_id_not_downloaded_is_not_found_and_stays_offline():
    with pytest.raises(ModelNotFoundError) as info:
        load_model(ModelSpec("stable-diffusion-v1-5/stable-diffusion-v1-5"))
    assert "not downloaded" in str(info.value) and "sdedit models download" in str(info.value)


def test_missing_path_and_missing_component(tiny_files, tmp_path):
    with pytest.raises(ModelNotFoundError):
        load_model(ModelSpec(str(tmp_path / "nope.safetensors")))
    folder = shutil.copytree(tiny_files[0], tmp_path / "broken")
    (folder / "unet" / "config.json").unlink()
    with pytest.raises(MissingComponentError) as info:
        load_model(ModelSpec(str(folder)))
    assert "config.json" in str(info.value) and "unet" in str(info.value)


def test_truncated_files_are_named(tiny_files, tmp_path):
    _, single = tiny_files
    data = single.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError) as info:
        load_model(ModelSpec(str(cut)), config_dir=tiny_files[0])
    message = str(info.value)
    assert "cut.safetensors" in message and "truncated" in message
    assert "Download it again" in message and info.value.path == cut
    # Inside a diffusers folder the damaged component file is named.
    folder = shutil.copytree(tiny_files[0], tmp_path / "partial")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CorruptWeightsError) as info:
        load_model(ModelSpec(str(folder)))
    assert "diffusion_pytorch_model.safetensors" in str(info.value)
    # An HTML error page saved under a .safetensors name.
    page = tmp_path / "page.safetensors"
    page.write_text("<html>rate limited</html>")
    with pytest.raises(CorruptWeightsError, match="not a safetensors file"):
        load_model(ModelSpec(str(page)))


def test_wrong_files_say_what_they_are(tiny_files, tmp_path):
    cases = {
        "lora.safetensors": {"down_blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 8)},
        "vae.safetensors": {"encoder.conv_in.weight": torch.zeros(8, 3, 3, 3)},
        "random.safetensors": {"weight": torch.zeros(3)},
        "refiner.safetensors": {"conditioner.embedders.0.model.x": torch.zeros(1),
                                "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1)},
    }
    expected = {"lora.safetensors": "a LoRA", "vae.safetensors": "a VAE on its own",
                "random.safetensors": "not a Stable Diffusion checkpoint",
                "refiner.safetensors": "an SDXL refiner"}
    for name, tensors in cases.items():
        save_file(tensors, str(tmp_path / name))
        with pytest.raises(WrongCheckpointError) as info:
            load_model(ModelSpec(str(tmp_path / name)))
        assert expected[name] in str(info.value) and name in str(info.value)
    # SD-shaped but for another text encoder width (as SD 2.x): checked against the config.
    state = tiny_ldm_state_dict()
    with pytest.raises(WrongCheckpointError, match="768"):
        save_file(state, str(tmp_path / "tiny-as-sd15.safetensors"))
        load_model(ModelSpec(str(tmp_path / "tiny-as-sd15.safetensors")))  # sd15 configs


def test_pickle_is_refused_unless_allowed(make_tiny_model, tiny_files, tmp_path):
    folder, _ = tiny_files
    ckpt = tmp_path / "model.ckpt"
    torch.save({"state_dict": tiny_ldm_state_dict()}, ckpt)  # test fixture: a pickle checkpoint
    with pytest.raises(PickleRefusedError) as info:
        load_model(ModelSpec(str(ckpt)), config_dir=folder)
    assert "model.ckpt" in str(info.value) and "--allow-pickle" in str(info.value)
    disguised = tmp_path / "disguised.safetensors"
    shutil.copyfile(ckpt, disguised)
    with pytest.raises(PickleRefusedError):
        load_model(ModelSpec(str(disguised)), config_dir=folder)
    allowed = load_model(ModelSpec(str(ckpt), allow_pickle=True), config_dir=folder)
    assert torch.equal(_outputs(allowed)[0], _outputs(make_tiny_model(0))[0])
    # A diffusers folder with pickle .bin weights is refused the same way.
    bin_folder = shutil.copytree(folder, tmp_path / "binfolder")
    (bin_folder / "vae" / "diffusion_pytorch_model.safetensors").rename(
        bin_folder / "vae" / "diffusion_pytorch_model.bin")
    with pytest.raises(PickleRefusedError):
        load_model(ModelSpec(str(bin_folder)))


def test_float64_model_and_counters():
    model = load_model(ModelSpec("tiny", dtype="float64"))
    assert model.dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in model.unet.parameters())
    embeds = model.encode_prompt("x")
    calls, samples = model.unet_calls, model.unet_samples
    out64 = model.predict_noise(torch.randn(3, 4, 8, 8, dtype=torch.float64), 5, embeds)
    out32 = model.predict_noise(torch.randn(1, 4, 8, 8), torch.tensor([5]), embeds)
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    assert (model.unet_calls - calls, model.unet_samples - samples) == (2, 4)
    assert model.encode_prompt("x") is embeds  # cached per prompt
    # Same weights in float32 and float64 agree to float32 precision.
    m32 = load_model(ModelSpec("tiny"))
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    diff = (m32.predict_noise(x.float(), 7, m32.encode_prompt("x")).double()
            - model.predict_noise(x, 7, embeds)).abs().max()
    assert 0 < diff < 1e-4


def test_tiny_source_is_cached_and_rebuilt_after_release():
    first = load_model(ModelSpec("tiny"))
    assert load_model(ModelSpec("tiny")) is first
    first.release()
    assert first.unet is None
    second = load_model(ModelSpec("tiny"))
    assert second is not first and second.unet is not None
    assert load_model(ModelSpec("tiny:1")).identity.source == "tiny:1"


def test_out_of_memory_is_wrapped(make_tiny_model, monkeypatch):
    model = make_tiny_model(0)

    def oom(*_args, **_kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "unet", oom)
    with pytest.raises(ModelOutOfMemoryError) as info:
        model.predict_noise(torch.zeros(1, 4, 8, 8), 1, torch.zeros(1, 77, 32))
    assert isinstance(info.value, torch.OutOfMemoryError) and isinstance(info.value, ModelError)
    assert "Out of memory" in str(info.value) and "2.00 GiB" in info.value.detail
    assert model.unet_calls == 0


def test_file_hash_is_cached_by_path_size_and_mtime(tmp_path):
    from sdedit_desktop.models.hashing import file_sha256

    file = tmp_path / "w.bin"
    file.write_bytes(b"a" * 1000)
    first = file_sha256(file)
    stat = file.stat()
    file.write_bytes(b"b" * 1000)  # same size; restore the old mtime: the cache answers
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_sha256(file) == first
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert file_sha256(file) == hashlib.sha256(b"b" * 1000).hexdigest()


def test_folder_with_legacy_key_names_loads(make_tiny_model, tiny_files, tmp_path):
    """The SD 1.5 hub files use older names: CLIP under `text_model.`, VAE attention as
    query/key/value/proj_attn. They load to the same model."""
    from safetensors.torch import load_file

    folder = shutil.copytree(tiny_files[0], tmp_path / "legacy")
    text = folder / "text_encoder" / "model.safetensors"
    save_file({"text_model." + k.removeprefix("text_model."): v
               for k, v in load_file(str(text)).items()}, str(text))
    vae = folder / "vae" / "diffusion_pytorch_model.safetensors"
    renames = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.",
               ".to_out.0.": ".proj_attn."}
    legacy = {}
    for key, value in load_file(str(vae)).items():
        for new, old in renames.items():
            key = key.replace(new, old)
        legacy[key] = value
    assert any(".proj_attn." in k for k in legacy)
    save_file(legacy, str(vae))
    model = load_model(ModelSpec(str(folder)))
    for got, want in zip(_outputs(model), _outputs(make_tiny_model(0)), strict=True):
        assert torch.equal(got, want)


def test_folder_that_is_not_a_diffusers_folder_points_to_its_checkpoint(tiny_files, tmp_path):
    shutil.copyfile(tiny_files[1], tmp_path / "dreamshaper.safetensors")
    with pytest.raises(MissingComponentError) as info:
        load_model(ModelSpec(str(tmp_path)))
    assert "not a diffusers model folder" in str(info.value)
    assert "dreamshaper.safetensors: choose that file instead" in str(info.value)
