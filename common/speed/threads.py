"""One thread for small models on the CPU (docs/speed.md: what a second thread costs and gains)."""

# features x hidden width below which a CPU run uses one thread: small matrices gain little from a second
# thread, and threads that spin waiting for each other turn a busy machine's seconds into minutes.
SMALL_MODEL = 200_000


def limit_threads(device, n_features, hidden_dim):
    """One torch thread and, through threadpoolctl, one BLAS/OpenMP thread for numpy and scikit-learn
    (10 x 10 solves in the mixture baselines), when the model is small and runs on the CPU."""
    if device != "cpu" or n_features * hidden_dim >= SMALL_MODEL:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
