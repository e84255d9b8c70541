"""What makes runs fast, kept apart so that a reader of the models and the pipeline can skip it.

- optim.py      Adam on torch's fused kernel without the Optimizer wrapper (same updates, no dynamo import)
- allocator.py  glibc's malloc thresholds raised: freed memory is reused, not mapped afresh every step
- painter.py    figures drawn in a second process while the run evaluates
- rows.py       distinct rows of 0/1 data, fast: each row packed into one integer
- threads.py    one thread for small models on the CPU

docs/speed.md holds the measurements behind each.
"""
