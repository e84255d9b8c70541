"""How a command line becomes a run's options: argparse built from an options dataclass.

A demo declares every option once, as a field of a dataclass (common/options.py holds the shared
ones). Here the fields become flags (`latent_dim` -> `--latent-dim`) whose help texts end with the
default the run uses; every value is checked by its `type` as it is parsed, every combination by the
class's `check()` right after, and only then does any work start. Bad input, at parse time or later
(UsageError), ends the program with one line, argparse's `prog: error: ...`, and exit code 2.

Only the standard library is imported here, so `python disease_dlvm.py --help` stays fast.
"""

import argparse
import dataclasses
import glob
import importlib
import math
import os
import re
import sys
import textwrap

# ---- Values: each flag's `type` checks its value as it is parsed ------------------------------------


class Interval:
    """A numeric constraint used as an argparse `type` (after sklearn's `Interval`).

    Interval(int, 1, None) accepts integers >= 1; Interval(float, 0, 1, closed="neither") accepts
    numbers strictly between 0 and 1. A bad value raises ArgumentTypeError, which argparse turns into
    `argument --flag: <message>`, so the message names the flag, the value and the valid range.
    """

    def __init__(self, kind, low, high, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def __str__(self):
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{left}{low}, {high}{right}"

    def __call__(self, text):
        noun = "an integer" if self.kind is int else "a number"
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; use {noun} in {self}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not finite; use {noun} in {self}")
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; use {noun} in {self}")
        return value

    def contains(self, value):
        below = self.low is not None and (
            value < self.low or (value == self.low and self.closed in ("neither", "right"))
        )
        above = self.high is not None and (
            value > self.high or (value == self.high and self.closed in ("neither", "left"))
        )
        return not (below or above)


POSITIVE_INT = Interval(int, 1, None)
NON_NEGATIVE_INT = Interval(int, 0, None)
NON_NEGATIVE = Interval(float, 0, None)
POSITIVE = Interval(float, 0, None, closed="neither")
OPEN_FRACTION = Interval(float, 0, 1, closed="neither")
CORRUPTION = Interval(float, 0, 1, closed="left")
SEED = Interval(int, 0, 2**32 - 1)  # the baselines' scikit-learn random_state takes 32-bit seeds only


def clusters_type(text):
    """--clusters: an integer K >= 2, or 'auto'."""
    if text == "auto":
        return text
    try:
        return Interval(int, 2, None)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of clusters; use an integer >= 2 or auto"
        ) from None


def labels_type(text):
    """--labels: a number of labelled training rows >= 1, or 'all'."""
    if text.lower() == "all":
        return "all"
    try:
        return POSITIVE_INT(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of labelled rows; use an integer >= 1, or all"
        ) from None


# ---- Declaring an option ----------------------------------------------------------------------------


def option(default, help, *, group, **flag):
    """A dataclass field that is also a flag: its default, its help text (the default is appended), its
    argparse group, and argparse's type, choices, metavar or nargs. `shown`, when given, is what the help
    text gives as the default ("{default}" in it is replaced by the value)."""
    return dataclasses.field(default=default, metadata={"help": help, "group": group, **flag})


def declared(cls, name):
    """The flag metadata of field `name`: a subclass may give a shared option its own default
    (`epochs: int = 80`), keeping the help text declared higher up."""
    for klass in cls.__mro__:  # the class that declares it (a dataclass's fields include its bases')
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata and name in vars(klass).get("__annotations__", {}):
            return field.metadata
    raise TypeError(f"{cls.__name__}.{name} has no help text; declare it with option()")


def flag_name(name):
    return "--" + name.replace("_", "-")


def options_fields(cls):
    """The fields of cls that are flags (not the ones a run fills in itself, such as argv)."""
    return [f for f in dataclasses.fields(cls) if f.init]


def _shown(value):
    if value is None or (isinstance(value, list | tuple) and not value):
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


# ---- Errors: one line, exit code 2 ------------------------------------------------------------------


class UsageError(Exception):
    """Bad input, found at parse time or by a stage of the run: `argument FLAG: what and how to fix`."""

    def __init__(self, flag, message):
        super().__init__(f"argument {flag}: {message}" if flag else message)


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: `prog: error: <what and how to fix>`, exit code 2. An
    unrecognized flag that belongs to another demo, or to another mode of this one, says where."""

    options = None  # the options class the parser was built from

    def parse_args(self, args=None, namespace=None):
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{flags_elsewhere(self.options, extras)}")
        return args

    def error(self, message):
        one_line = message.replace("\r", "\\r").replace("\n", "\\n")  # a value may hold a line break
        self.exit(2, f"{self.prog}: error: {one_line}{choice_elsewhere(self.options, message)}\n")


def script_of(declared):
    """The demo script a class or function is declared in, e.g. 'disease_dlvm.py'."""
    return os.path.basename(sys.modules[declared.__module__].__file__)


def choice_elsewhere(cls, message):
    """' (recvae is a --model of movie_dlvm.py --likelihood multinomial)' when argparse refused a value
    that another mode of cls's script accepts for the same flag; else ''."""
    refused = re.match(r"argument (--[\w-]+): invalid choice: '(.*?)'", message)
    if cls is None or refused is None:
        return ""
    flag, value = refused.groups()
    for klass in getattr(sys.modules[cls.__module__], "OPTIONS", ()):
        for field in options_fields(klass):
            if flag_name(field.name) == flag and value in (declared(klass, field.name).get("choices") or ()):
                return f" ({value} is a {flag} of {script_of(klass)} {klass.mode})"
    return ""


def flags_elsewhere(cls, tokens):
    """' (--generate is a flag of cuisine_dlvm.py)' for tokens that are flags of the other demos beside
    cls's script (every *_dlvm.py lists its options classes in OPTIONS), or of another mode; else ''."""
    if cls is None:
        return ""
    folder = os.path.dirname(os.path.abspath(sys.modules[cls.__module__].__file__))
    owners = {}  # flag -> {script: where it belongs: the script, and the mode first found with it}
    for path in sorted(glob.glob(os.path.join(folder, "*_dlvm.py"))):
        script = os.path.basename(path)
        for klass in getattr(importlib.import_module(script[:-3]), "OPTIONS", ()):
            for field in options_fields(klass):
                where = owners.setdefault(flag_name(field.name), {})
                where.setdefault(script, script + (f" {klass.mode}" if klass.mode else ""))
    own = {flag_name(f.name) for f in options_fields(cls)}
    notes = {}
    for token in tokens:
        flag = token.split("=", 1)[0]
        if flag in owners and flag not in own:
            notes[flag] = f"{flag} is a flag of {' and '.join(owners[flag].values())}"
    return f" ({'; '.join(notes.values())})" if notes else ""


# ---- From a command line to checked options ---------------------------------------------------------


def build_parser(cls):
    """The argparse parser of an options class: one flag per field, grouped, with its default in its
    help. Defaults are not given to argparse, so the parsed values are exactly what was typed."""
    defaults = cls()  # every field has a default; __post_init__ fills in those derived from others
    parser = Parser(
        prog=script_of(cls),
        description=cls.description,
        epilog="\n\n".join(filter(None, [modes_of(cls), cls.epilog])) or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.options = cls
    groups = {}
    for field in options_fields(cls):
        meta = declared(cls, field.name)
        if meta["group"] not in groups:
            groups[meta["group"]] = parser.add_argument_group(meta["group"])
        value = getattr(defaults, field.name)
        shown = meta.get("shown", "{default}").format(default=_shown(value))
        flag = {k: v for k, v in meta.items() if k in ("type", "choices", "metavar", "nargs")}
        if isinstance(value, bool):
            flag = {"action": "store_true"}
        refused = field.name in cls.REFUSED  # still parsed, to be refused with the reason
        groups[meta["group"]].add_argument(
            flag_name(field.name),
            dest=field.name,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS if refused else f"{meta['help']} (default: {shown})",
            **flag,
        )
    return parser


def modes_of(cls):
    """--help's list of the modes of cls's demo (its OPTIONS), each by the first paragraph of its
    docstring; '' for a demo of one mode."""
    modes = [klass for klass in getattr(sys.modules[cls.__module__], "OPTIONS", ()) if klass.mode]
    if not modes:
        return ""
    lines = ["modes, each with defaults of its own (give --help after the flags that choose one):"]
    for klass in modes:
        first = " ".join((klass.__doc__ or "").split("\n\n")[0].split()).rstrip(".")  # its first paragraph
        lines.append(textwrap.fill(f"  {klass.mode}: {first}", 96, subsequent_indent="      "))
    return "\n".join(lines)


def typed(argv, *flags, switches=()):
    """{dest: value, or None when not given} of `flags` as the command line gives them (abbreviated,
    or as --flag=value), and True for the `switches` given (flags without a value), read before the full
    parse, for a demo whose flags decide its mode; all None when argv does not parse (the full parser
    then reports the problem)."""

    class Peek(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(message)

    peek = Peek(add_help=False)
    for flag in flags:
        peek.add_argument(flag)
    for flag in switches:
        peek.add_argument(flag, action="store_const", const=True)
    try:
        return vars(peek.parse_known_args(argv)[0])
    except ValueError:
        return dict.fromkeys(vars(peek.parse_known_args([])[0]))


def refuse_nul_bytes(given):
    """A value with a NUL byte, which no file name or name of a column can hold (os.path raises on it)."""
    for name, value in given.items():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise UsageError(
                flag_name(name), f"{value!r} holds a NUL byte, which no name can; give a real one"
            )


def parse(options_for, argv=None):
    """Checked options of a command line. `options_for` is the demo's options class, or, for a demo with
    modes, a function of argv that returns the class of the mode argv asks for."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if isinstance(options_for, type):  # a demo of one mode
        options_for = (lambda cls: lambda _argv: cls)(options_for)
    cls = options_for(argv)
    parser = build_parser(cls)
    given = vars(parser.parse_args(argv))
    from common import saved_run, staging

    try:
        refuse_nul_bytes(given)
        if "resume" in given:  # the run folder's options, checked as these would be (common/saved_run.py)
            args = saved_run.resumed(cls, options_for, given, argv)
        else:
            args = cls(**given)
            args.argv, args.given = argv, frozenset(given)
            saved_run.take_data_of_loaded(args)  # --load: the saved run's data, before the checks read it
            args.check()
        staging.claim(args)  # --out checked and locked for this run (released when main returns)
    except UsageError as err:
        parser.error(str(err))
    return args
