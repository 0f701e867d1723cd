import pytest
import torch

from iars.augment import crop_views, sample_crop, take_per_row
from iars.module import ContrastivePretrainer


def _timestamps(B, T):
    """x[i, t] = (1000 i + t): every value names its series and timestamp."""
    return (1000 * torch.arange(B)[:, None, None] + torch.arange(T)[None, :, None]).float()


@pytest.mark.parametrize("T", [2, 3, 17, 100])
def test_crop_geometry_is_valid_and_overlap_aligns(T):
    g = torch.Generator().manual_seed(T)
    B = 5
    x = _timestamps(B, T)
    for _ in range(200):
        crop = sample_crop(B, T, generator=g)
        assert 2 <= crop.length <= T
        assert 0 <= crop.a1 <= crop.left < crop.right <= crop.b2 <= T
        assert (crop.offsets + crop.a1 >= 0).all() and (crop.offsets + crop.b2 <= T).all()
        v1, v2 = crop_views(x, crop)
        assert v1.shape == (B, crop.right - crop.a1, 1) and v2.shape == (B, crop.b2 - crop.left, 1)
        overlap1, overlap2 = v1[:, -crop.length :], v2[:, : crop.length]
        torch.testing.assert_close(overlap1, overlap2)
        for i in range(B):
            start = int(crop.offsets[i]) + crop.left
            torch.testing.assert_close(overlap1[i, :, 0], x[i, start : start + crop.length, 0])


def test_views_differ_beyond_the_overlap():
    g = torch.Generator().manual_seed(0)
    crops = [sample_crop(4, 50, generator=g) for _ in range(100)]
    assert any(c.a1 < c.left for c in crops) and any(c.b2 > c.right for c in crops)
    assert any(len(set(c.offsets.tolist())) > 1 for c in crops)  # per-series shifts


def test_temporal_unit_sets_minimum_overlap():
    g = torch.Generator().manual_seed(1)
    assert min(sample_crop(2, 40, temporal_unit=2, generator=g).length for _ in range(300)) >= 8


def test_too_short_series_are_rejected_clearly():
    with pytest.raises(ValueError, match="too short to crop"):
        sample_crop(2, 1)


def test_take_per_row():
    x = _timestamps(3, 10)
    out = take_per_row(x, torch.tensor([0, 4, 7]), 3)
    assert out[:, :, 0].tolist() == [[0, 1, 2], [1004, 1005, 1006], [2007, 2008, 2009]]


def test_module_views_put_the_same_timestamps_at_the_same_positions():
    """Through the module with an identity encoder, z1 and z2 hold the same input timestamps."""
    module = ContrastivePretrainer(torch.nn.Identity(), averaged=False)
    x = _timestamps(6, 64)
    for _ in range(50):
        z1, z2 = module.views(x)
        torch.testing.assert_close(z1, z2)
        assert z1.shape[1] >= 2
