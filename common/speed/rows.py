"""Distinct rows of a matrix, fast for 0/1 data.

Binary worlds repeat rows a lot (12 symptoms have at most 4096 patterns), so the demos evaluate and
fit once per distinct row. np.unique(x, axis=0) and torch.unique(x, dim=0) sort whole rows: 5.7 s and
3.1 s for a million rows of 12 features on this machine. A 0/1 row of at most 62 features packs into
one int64 with the first column as the most significant bit, and a million integers sort in 0.1-0.4 s.
That order is the lexicographic order of the rows, so the results are exactly those of np.unique and
torch.unique (tests/test_rows.py), and every Monte Carlo estimate made per distinct row is unchanged.
"""

import numpy as np

MAX_BITS = 62  # columns a packed row may have: int64 codes stay positive


def _packable(x):
    return 0 < x.shape[1] <= MAX_BITS and bool(((x == 0) | (x == 1)).all())


def unique_rows(x):
    """(distinct rows, inverse, counts) of a 2-D numpy array, as np.unique(x, axis=0,
    return_inverse=True, return_counts=True): x == distinct[inverse], rows in lexicographic order."""
    x = np.asarray(x)
    if not _packable(x):
        unique, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
        return unique, inverse.reshape(-1), counts
    shifts = np.arange(x.shape[1] - 1, -1, -1, dtype=np.int64)
    codes = (x.astype(np.int64) << shifts).sum(1)
    _, first, inverse, counts = np.unique(codes, return_index=True, return_inverse=True, return_counts=True)
    return x[first], inverse.reshape(-1), counts


def unique_rows_tensor(x):
    """(distinct rows, inverse) of a 2-D torch tensor on any device, as torch.unique(x, dim=0,
    return_inverse=True)."""
    import torch

    if not _packable(x):
        return torch.unique(x, dim=0, return_inverse=True)
    shifts = torch.arange(x.shape[1] - 1, -1, -1, device=x.device)
    codes, inverse = torch.unique((x.long() << shifts).sum(1), return_inverse=True)
    return ((codes[:, None] >> shifts) & 1).to(x.dtype), inverse


def repeated_binary_rows(x):
    """(distinct rows, inverse) of a 0/1 torch tensor of which at most half the rows are distinct, else
    None. Training can then work on distinct rows weighted by their counts (common/train.py,
    --distinct-rows); real-valued rows seldom repeat, and comparing them costs a sort of whole rows."""
    import torch

    if not torch.is_tensor(x) or not _packable(x):
        return None
    unique, inverse = unique_rows_tensor(x)
    return (unique, inverse) if len(unique) <= len(x) // 2 else None
