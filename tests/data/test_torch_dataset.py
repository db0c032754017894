"""Tests of the torch wrapper and the spec -> source factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from b2v_edge.data.gopro import GoProAll, GoProPairs  # noqa: E402
from b2v_edge.data.panorama import PanoramaBlur  # noqa: E402
from b2v_edge.data.synthetic import SyntheticBlur  # noqa: E402
from b2v_edge.data.torch_dataset import BlurDataset, make_source  # noqa: E402


def test_tensor_shapes() -> None:
    ds = BlurDataset(SyntheticBlur(3, (24, 32), "test", length=4))
    blurred, frames = ds[0]
    assert blurred.shape == (3, 24, 32) and frames.shape == (3, 3, 24, 32)
    assert blurred.dtype == torch.float32 and frames.dtype == torch.float32
    assert len(ds) == 4 and ds.frames == 3
    sample = ds.source[0]
    np.testing.assert_array_equal(blurred.numpy(), sample.blurred.transpose(2, 0, 1))


def test_crop_flip_and_loader() -> None:
    ds = BlurDataset(SyntheticBlur(3, (24, 32), "test", length=4), crop=(16, 16), flip=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=0)
    blurred, frames = next(iter(loader))
    assert blurred.shape == (2, 3, 16, 16) and frames.shape == (2, 3, 3, 16, 16)


def test_set_epoch_gives_new_train_samples() -> None:
    ds = BlurDataset(SyntheticBlur(3, (16, 16), "train", length=3))
    first = ds[0][0]
    ds.set_epoch(1)
    assert not torch.equal(first, ds[0][0])
    test_ds = BlurDataset(SyntheticBlur(3, (16, 16), "test", length=3))
    before = test_ds[0][0]
    test_ds.set_epoch(5)  # bounded sources are not shifted
    assert torch.equal(before, test_ds[0][0])


def test_make_source_forms(gopro_all_root: Path, gopro_pairs_root: Path, panorama_root: Path) -> None:
    syn = make_source("synthetic", frames=5, split="test", size=(16, 16), length=2)
    assert isinstance(syn, SyntheticBlur) and syn.frames == 5 and len(syn) == 2
    gp = make_source(f"gopro:{gopro_all_root}", frames=7, split="train", crop=(8, 8))
    assert isinstance(gp, GoProAll) and gp[0].blurred.shape == (8, 8, 3)
    pairs = make_source(f"gopro-pairs:{gopro_pairs_root}", frames=7, split="test")
    assert isinstance(pairs, GoProPairs) and pairs.frames == 1
    pano = make_source(f"panorama:{panorama_root}", frames=3, split="test", size=(16, 16))
    assert isinstance(pano, PanoramaBlur) and BlurDataset(pano)[0][1].shape == (3, 3, 16, 16)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown kind 'nope'; accepted forms: synthetic"),
        ("gopro", "gopro needs a DIR: write gopro:DIR"),
        ("gopro:", "gopro needs a DIR"),
        ("synthetic:x", "synthetic takes no argument"),
        ("panorama", "panorama needs a DIR"),
        ("", "--data is empty; accepted forms: synthetic"),
    ],
)
def test_make_source_bad_spec(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_source(spec)


def test_workers_draw_different_crops(gopro_all_root: Path) -> None:
    source = GoProAll(gopro_all_root, "test", frames=7)  # a single window
    ds = BlurDataset(source, crop=(8, 8), flip=True, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2, sampler=[0] * 8)
    torch.manual_seed(0)
    epoch1 = [b[0].numpy().tobytes() for b, _ in loader]
    epoch2 = [b[0].numpy().tobytes() for b, _ in loader]
    assert epoch1[0::2] != epoch1[1::2]  # batches alternate between the two workers
    assert epoch1 != epoch2  # workers are reseeded every epoch
    torch.manual_seed(0)
    assert [b[0].numpy().tobytes() for b, _ in loader] == epoch1  # yet reproducible
