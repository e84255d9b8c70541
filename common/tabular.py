"""Your own data: a CSV table read, checked and turned into the rows a demo trains on.

Every problem is a TableError (a ValueError) whose one-line message names the file, the column and
the row, and says how to fix it, so the demo can print it argparse-style and exit with code 2.
Rows are numbered as a spreadsheet shows them: row 1 is the first data row, under the header.
Constant feature columns are no error: they are left out, all named in one note (constant_note); a
column that looks like a row id is kept, with a warning (id_warnings).
"""

import re
from dataclasses import dataclass, field

import numpy as np

MIN_ROWS = 10  # a train and a test part, and a few rows per cluster
MAX_NAMED = 10  # columns a message names before "and N more"
# Ten times the smallest standard deviation whose square is a normal float32 (1.2e-38): about 1e-18
SMALLEST_SPREAD = float(np.sqrt(np.finfo(np.float32).tiny)) * 10


class TableError(ValueError):
    pass


@dataclass
class Table:
    x: np.ndarray  # (n, D) float32 features
    feature_names: list
    labels: np.ndarray | None  # (n,) int class index, or None without a label column
    class_names: list | None
    label_column: str | None
    dropped_constant: list = field(default_factory=list)  # constant feature columns left out, in order
    id_like: list = field(default_factory=list)  # feature columns that look like row ids (id_warnings)


def load_table(path, *, binary, label_column=None, drop_columns=()):
    """Read `path` (CSV with a header row) into a Table.

    binary=True demands 0/1 features (the disease demo's Bernoulli likelihood); otherwise any finite
    numbers. `label_column` holds known classes (any values; used only to colour plots and score
    recovery), `drop_columns` are ignored (ids, free text). Constant feature columns are left out and
    listed in the Table's `dropped_constant` (constant_note says so in one line); none left is an error.
    """
    import pandas as pd

    options = {"dtype": str, "keep_default_na": False, "skipinitialspace": True}
    try:
        # First the raw lines, the header being one of them: the header's field count is the width,
        # and a longer line is a ParserError naming it. Read with the header as header, pandas would
        # silently make the extra leading fields of such rows the index and shift every value left.
        pd.read_csv(path, header=None, **options)
        frame = pd.read_csv(path, index_col=False, **options)
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        wide = re.search(r"Expected (\d+) fields? in line (\d+), saw (\d+)", reason)
        if wide:
            width, line, fields = map(int, wide.groups())
            raise TableError(
                f"{path}: line {line} has {fields} fields but the header has {width} column"
                + ("s" * (width != 1))
                + "; if the file uses another delimiter (such as ';') or decimal commas, save it with "
                "commas between fields and points in numbers, and quote text that contains commas"
            ) from None
        raise TableError(f"{path}: cannot read it as CSV ({reason})") from None

    columns = list(frame.columns)
    for name in [*drop_columns, *([label_column] if label_column else [])]:
        if name not in columns:
            flag = "--label-column" if name == label_column else "--drop-columns"
            raise TableError(
                f"{path}: {flag} names {name!r}, which is not a column; columns are: {', '.join(columns)}"
            )
    if len(frame) < MIN_ROWS:
        raise TableError(
            f"{path}: {len(frame)} data row(s); need at least {MIN_ROWS} to train and hold some out"
        )

    labels, class_names = _read_labels(path, frame, label_column) if label_column else (None, None)
    features = [c for c in columns if c not in set(drop_columns) and c != label_column]
    if not features:
        raise TableError(f"{path}: no feature columns left after --label-column and --drop-columns")
    x, kept, constant = _read_features(path, frame, features, binary)
    id_like = [name for j, name in enumerate(kept) if _looks_like_ids(x[:, j])]
    return Table(x, kept, labels, class_names, label_column, constant, id_like)


def _read_labels(path, frame, label_column):
    """(class index of each row (n,), class names in natural order) of the label column."""
    values = frame[label_column].str.strip()
    _check_missing(path, values, label_column)
    class_names = sorted(values.unique(), key=_natural)
    if len(class_names) < 2:  # every method would score a perfect ARI against it
        raise TableError(
            f"{path}: column {label_column!r} has one class only ({class_names[0]!r}): nothing to "
            "recover; drop --label-column or give a column with 2 or more classes"
        )
    return values.map({name: k for k, name in enumerate(class_names)}).to_numpy(), class_names


def constant_note(table):
    """The one line that tells the user which constant columns were left out, or None if none were."""
    n = len(table.dropped_constant)
    if not n:
        return None
    plural = "s, which carry" if n > 1 else ", which carries"
    return f"dropped {n} constant column{plural} no information: {_named(table.dropped_constant)}"


def id_warnings(table):
    """One line for each feature column that looks like a row id: as a feature it leaks the rows' order,
    and a table's order often follows its classes (wine's rows are sorted by cultivar)."""
    return [
        f"column {name!r} looks like a row id (a different whole number in every row, consecutive), and is "
        f"used as a feature; if it is an id, leave it out with --drop-columns {name}"
        for name in table.id_like
    ]


def _looks_like_ids(column):
    """Distinct whole numbers in every row that, sorted, step by 1: a row number, not a measurement."""
    steps = np.diff(np.sort(column.astype(np.float64)))
    return bool(np.all(column == np.round(column)) and np.all(steps == 1))


def _named(names):
    """'a', 'b', 'c': the first MAX_NAMED names quoted, then how many more there are."""
    shown = ", ".join(repr(name) for name in names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _read_features(path, frame, names, binary):
    """The columns `names` as (n, D) float32 rows without the constant columns: (x, kept, constant)."""
    x = np.empty((len(frame), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        x[:, j] = _numeric_column(path, frame[name].str.strip(), name, binary)
    varies = _varies(x)
    kept, constant = ([names[j] for j in np.flatnonzero(keep)] for keep in (varies, ~varies))
    if not constant:
        return x, kept, constant
    if not kept:
        raise TableError(
            f"{path}: every feature column is constant ({_named(constant)}), so there is nothing to learn "
            "from; keep columns whose values vary from row to row (check --label-column and --drop-columns)"
        )
    # Left out rather than refused: they carry no information, and a table may have many of them.
    return x[:, varies], kept, constant


def _varies(x):
    """Columns with a spread at float32 precision: not one value in every row, and a standard deviation
    above one float32 step of the column's magnitude (a smaller spread is rounding, not information)."""
    spread = x.astype(np.float64).std(axis=0)
    step = np.spacing(np.abs(x).max(axis=0))  # the gap between float32 values at the column's largest
    return (x != x[0]).any(axis=0) & (spread > step)


def _natural(text):
    """Sort class names numerically when they are numbers ('2' before '10'), else alphabetically."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _check_missing(path, values, name):
    empty = np.flatnonzero(values.isin(["", "NA", "NaN", "nan", "N/A", "null"]).to_numpy())
    if len(empty):
        raise TableError(
            f"{path}: column {name!r} has a missing value in row {empty[0] + 1}"
            + (f" (and {len(empty) - 1} more)" if len(empty) > 1 else "")
            + "; fill or drop those rows"
        )


def _numeric_column(path, values, name, binary):
    import pandas as pd

    _check_missing(path, values, name)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        row = bad[0]
        raise TableError(f"{path}: column {name!r}, row {row + 1}: {values.iloc[row]!r} is not a number")
    # Rows are float32 (3.4e38 at most) and a variance sums n squares: 20,000 values of 1e18 overflowed
    # the Gaussian mixture's covariances. A tenth of the largest value whose n squares fit:
    largest = float(np.sqrt(np.finfo(np.float32).max / len(numbers))) / 10
    bad = np.flatnonzero(np.abs(numbers) > largest)
    if len(bad):
        row = bad[0]
        raise TableError(
            f"{path}: column {name!r}, row {row + 1}: {values.iloc[row]!r} is too large for 32-bit "
            f"floats (with {len(numbers)} rows, at most {largest:.2g} in magnitude, so that sums of "
            "squares fit); rescale the column, e.g. divide it by a power of ten or take its logarithm"
        )
    # The models and baselines square deviations in float32: a spread below about 1e-18 underflows to
    # zero variance there, and every feature would look perfectly reconstructed (R^2 = 1).
    spread = float(np.std(numbers))
    if 0 < spread < SMALLEST_SPREAD:
        raise TableError(
            f"{path}: column {name!r} varies by only {spread:.2g} (standard deviation), too little for "
            f"32-bit floats (at least {SMALLEST_SPREAD:.2g}, so that squared deviations do not vanish); "
            "rescale the column, e.g. multiply it by a power of ten"
        )
    if binary:
        bad = np.flatnonzero((numbers != 0) & (numbers != 1))
        if len(bad):
            row = bad[0]
            raise TableError(
                f"{path}: column {name!r}, row {row + 1}: {values.iloc[row]!r} is not 0 or 1 "
                "(this demo models yes/no features; real-valued tables go to cuisine_dlvm.py)"
            )
    return numbers
