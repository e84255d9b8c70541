"""What a run folder gives back, checked as the command line is: --resume's options (config.json) and
the data a saved model was trained on (--load, --resume).

A saved model is scored on the held-out rows of the data it was trained on, so --load and --resume
take the data settings (DATA_SETTINGS: the seed, the world's sizes, --test-fraction, the table and how
it is read) from the saved run, say so in one line, and refuse a typed flag that contradicts one.
Every value read back passes its flag's own check (its `type=` and `choices` in the declarations).
"""

import argparse
import json
import os

from common.cli import UsageError, declared, flag_name, options_fields

# The options that decide which rows a run has, and which of them are held out: the ones of these an
# options class declares are its data settings (--labels, which rows keep their class, is the model's).
DATA_SETTINGS = (
    "seed", "samples", "users", "movies", "likelihood", "test_fraction",
    "data", "label_column", "drop_columns", "standardize",
)  # fmt: skip


def data_names(cls):
    fields = {f.name for f in options_fields(cls)}
    return [name for name in DATA_SETTINGS if name in fields]


# ---- One value, checked as its flag would check it typed --------------------------------------------


def checked_value(cls, name, value, path, flag):
    """`value` of option `name` read from `path`, as its flag parses it (so "2" is 2, as typed); else
    UsageError(flag) naming the file, the key and the fix."""
    try:
        return _as_typed(cls, name, value)
    except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
        raise UsageError(flag, f'{path}: "{name}": {err}; fix the file or rerun') from None


def _as_typed(cls, name, value):
    default = next(f.default for f in options_fields(cls) if f.name == name)
    meta = declared(cls, name)
    if value is None:
        if default is None:
            return None
        raise ValueError("null, where the run writes a value")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return value
    if "nargs" in meta:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{value!r} is not a list of names")
        return tuple(meta.get("type", str)(v) for v in value)
    parsed = meta.get("type", str)(str(value))  # the flag's own check: its range, its words
    if "choices" in meta and parsed not in meta["choices"]:
        raise ValueError(f"{value!r} is not one of {', '.join(map(str, meta['choices']))}")
    return parsed


def from_saved(cls, saved, path):
    """Options from a run's config.json, every value checked as its flag would check it."""
    values = {
        f.name: checked_value(cls, f.name, saved[f.name], path, "--resume")
        for f in options_fields(cls)
        if f.name in saved
    }
    return cls(**values)


# ---- The data a saved model was trained on -----------------------------------------------------------


def data_record(config):
    """What model.pt records of its data: the data settings of the run's config.json, --data as an
    absolute path (the record must hold wherever the model is loaded from)."""
    record = {name: config[name] for name in DATA_SETTINGS if name in config}
    if record.get("data") is not None:
        record["data"] = os.path.abspath(record["data"])
    return record


def data_of_model(cls, file, checkpoint, flag):
    """(settings, source): the data settings the model of `file` was trained on, each checked as its
    flag, and the file that says so; ({}, None) when nothing records them."""
    # model.pt's own record first: it travels with the weights, so a model.pt copied elsewhere, or a
    # config.json edited or replaced since, cannot mislead it. Files written before model.pt recorded its
    # data fall back on the config.json the same run wrote beside them (every option as the run used it).
    record, source = checkpoint.get("data"), file
    if not isinstance(record, dict):
        source = os.path.join(os.path.dirname(file), "config.json")
        record = _config_beside(source, cls.demo)
    if record is None:
        return {}, None
    names = [name for name in data_names(cls) if name in record]
    return {name: checked_value(cls, name, record[name], source, flag) for name in names}, source


def unfinished(file, checkpoint, demo):
    """(epochs done, epochs planned) of a model.pt whose training stopped early (its run's config.json,
    beside it, gives the epochs planned), or None."""
    done = (checkpoint.get("training") or {}).get("epoch")
    config = _config_beside(os.path.join(os.path.dirname(file), "config.json"), demo) or {}
    planned = config.get("epochs")
    if isinstance(done, int) and isinstance(planned, int) and done < planned:
        return done, planned
    return None


def _config_beside(path, demo):
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and saved.get("demo") == demo else None


def take_data_of_loaded(args):
    """--load, before the option checks: the saved run's data settings in place of this command line's;
    a typed flag that contradicts one is refused (docs/run-folder.md: why)."""
    if args.load is None or "load" in args.REFUSED:  # a mode that refuses --load says why in its check
        return
    settings, _ = data_of_model(
        type(args), args.load, read_checkpoint(args.load, args.demo, "--load"), "--load"
    )
    for name, value in settings.items():
        if name in args.given and not _same(name, getattr(args, name), value):
            flag, typed = flag_name(name), _described(name, getattr(args, name))
            raise UsageError(
                flag,
                f"{args.load} was trained {_described(name, value)}, and --load evaluates a model on the "
                f"data it was trained on; drop {flag}, or train a model {typed}",
            )
        setattr(args, name, value)


def data_note(args, flag, checkpoint):
    """The line that says which data a --load or --resume run takes from the saved run, and whence."""
    if flag == "--resume":
        source = os.path.join(args.resume, "config.json")
        head = f"--resume continues on the data {args.resume} was trained on"
    else:
        _, source = data_of_model(type(args), args.load, checkpoint, flag)
        head = f"--load evaluates on the data {os.path.basename(args.load)} was trained on"
    defaults = type(args)()
    names = [n for n in data_names(type(args)) if n == "seed" or getattr(args, n) != getattr(defaults, n)]
    settings = " ".join(_described(name, getattr(args, name), bare=True) for name in names)
    if source is None:
        return (
            f"{args.load} records no data settings and has no config.json beside it; --load evaluates on "
            f"this command line's data: {settings}"
        )
    return f"{head}: {settings} (from {source})"


def _same(name, a, b):
    if name == "data" and a is not None and b is not None:  # one table, however its path is written
        return os.path.realpath(a) == os.path.realpath(b)
    return (tuple(a) if isinstance(a, list) else a) == (tuple(b) if isinstance(b, list) else b)


def _described(name, value, bare=False):
    """'with --seed 3', 'without --data', 'with --drop-columns id note'; bare: '--seed 3'."""
    flag = flag_name(name)
    if value is None or value is False or value == ():
        return f"without {flag}"
    shown = flag if value is True else f"{flag} {' '.join(value) if isinstance(value, tuple) else value}"
    return shown if bare else f"with {shown}"


def read_checkpoint(file, demo, flag):
    """model.pt through runio.load_model_file, a refusal as UsageError(flag)."""
    from common import runio

    try:
        return runio.load_model_file(file, demo=demo)
    except runio.CheckpointError as err:
        raise UsageError(flag, str(err)) from None


# ---- --resume: the options a run was started with, checked as if typed -----------------------------


def resumed(cls, options_for, given, argv):
    """--resume RUN_DIR: the run's own options from its config.json, read as the options class of the
    mode its command line chose (options_for), of which only a few presentation options
    (cls.RESUME_MAY_CHANGE) may be given again; checked as typed options, and against its model.pt."""
    folder = given["resume"]
    changed = sorted(set(given) - {"resume", *cls.RESUME_MAY_CHANGE})
    if changed:
        allowed = ", ".join(map(flag_name, cls.RESUME_MAY_CHANGE))
        raise UsageError(
            "--resume",
            f"continues the run as it was configured; drop {', '.join(map(flag_name, changed))} "
            f"(allowed besides: {allowed})",
        )
    path = os.path.join(folder, "config.json")
    saved = _read_config(path, cls.demo, folder)
    strings = lambda value: [v for v in value if isinstance(v, str)] if isinstance(value, list) else []  # noqa: E731
    saved_argv = strings(saved.get("argv"))
    args = from_saved(options_for(saved_argv), saved, path)
    args.argv, args.given = saved_argv, frozenset(strings(saved.get("given")))
    args.resumable(folder)
    for name in cls.RESUME_MAY_CHANGE:  # given on this command line: it wins
        if name in given:
            setattr(args, name, given[name])
    args.device = given.get("device", "auto")  # where to continue is this machine's business
    _agrees_with_model(args, folder, path)
    try:  # the combinations, as for a typed command line (a config.json edited since can break them)
        args.check()
    except UsageError as err:
        raise UsageError(
            "--resume", f"{path}: {str(err).removeprefix('argument ')}; fix the file or rerun"
        ) from None
    args.resume, args.out, args.resumed_with = folder, folder, argv
    return args


def _read_config(path, demo, folder):
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or "not valid JSON"
        raise UsageError(
            "--resume", f"cannot read {path} ({reason}); give a run folder of this demo"
        ) from None
    if not isinstance(saved, dict):
        raise UsageError("--resume", f"{path} is not a run's configuration; give a run folder of this demo")
    if saved.get("demo") != demo:
        raise UsageError(
            "--resume",
            f"{folder} holds a run of the {saved.get('demo')} demo; "
            f"resume it with {saved.get('demo')}_dlvm.py",
        )
    return saved


def _agrees_with_model(args, folder, path):
    """config.json must describe the model.pt beside it: the model it holds, and the data it records."""
    from common.fitting import held_by

    file = os.path.join(folder, "model.pt")
    checkpoint = read_checkpoint(file, args.demo, "--resume")
    settings, _ = data_of_model(type(args), file, checkpoint, "--resume")
    for name, value in (held_by(args, checkpoint["config"]) | settings).items():
        if not _same(name, getattr(args, name, None), value):
            raise UsageError(
                "--resume",
                f'{path}: "{name}" is {getattr(args, name, None)!r}, but {file} was trained '
                f"{_described(name, value)}; fix the file or rerun",
            )
