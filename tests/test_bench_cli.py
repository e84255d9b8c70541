"""The benchmarks refuse bad flags the way the demos do: one argparse line naming the value, exit 2,
before any run starts."""

import pytest

from bench import archetype_ceiling, interpret, latent_readout, movielens, quality, shared_posterior, speed


@pytest.mark.parametrize(
    "main, argv, named",
    [
        (quality.main, ["disease", "--seeds", "0"], "--seeds: 0 is out of range"),
        (quality.main, ["disease", "--config", "b512"], "'b512' has no NAME="),
        (quality.main, ["movie", "--config", "x=--likelihood multinomial"], "use bench/movielens.py"),
        (interpret.main, ["--seeds", "0"], "--seeds: 0 is out of range"),
        (latent_readout.main, ["--seeds", "0"], "--seeds: 0 is out of range"),
        (latent_readout.main, ["--config", "vae"], "'vae' has no NAME="),
        (interpret.main, ["--betas", "-1"], "--betas: -1 is out of range"),
        (archetype_ceiling.main, ["--seeds", "-1"], "--seeds: -1 is out of range"),
        (archetype_ceiling.main, ["--shrink", "nan"], "'nan' is not finite"),
        (movielens.main, ["--data", "/nonexistent"], "no u.data in /nonexistent"),
        (movielens.main, ["--folds", "0"], "--folds: 0 is out of range"),
        (speed.main, ["loops"], "loops is not one of loop, demos, memory, scaling, movie-scaling"),
        (shared_posterior.main, ["--seeds", "0"], "--seeds: 0 is not a positive number of seeds"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(main, argv, named, capsys):
    with pytest.raises(SystemExit) as end:
        main(argv)
    assert end.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert named in error
