"""common.speed.rows against numpy's and torch's own unique over rows: same rows, order, inverse, counts."""

import numpy as np
import pytest
import torch

from common.speed.rows import MAX_BITS, unique_rows, unique_rows_tensor


def _binary(n, d, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.3).astype(np.float32)


@pytest.mark.parametrize(
    "x",
    [
        _binary(500, 12),  # packed: many repeats
        _binary(300, MAX_BITS),  # packed: the widest row that fits an int64
        _binary(200, MAX_BITS + 1),  # too wide to pack: numpy's own path
        np.random.default_rng(1).integers(0, 3, (400, 5)).astype(np.float64),  # not 0/1
    ],
    ids=["12 bits", "62 bits", "63 bits", "ratings"],
)
def test_matches_numpy_and_torch(x):
    unique, inverse, counts = unique_rows(x)
    expected, expected_inverse, expected_counts = np.unique(
        x, axis=0, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(unique, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(counts, expected_counts)
    np.testing.assert_array_equal(unique[inverse], x)

    tensor = torch.from_numpy(x)
    unique_t, inverse_t = unique_rows_tensor(tensor)
    expected_t, expected_inverse_t = torch.unique(tensor, dim=0, return_inverse=True)
    assert unique_t.dtype == tensor.dtype
    torch.testing.assert_close(unique_t, expected_t, rtol=0, atol=0)
    torch.testing.assert_close(inverse_t, expected_inverse_t, rtol=0, atol=0)
