"""MovieLens files, the implicit-feedback preprocessing of Mult-VAE, and held-out users.

Loaders read the three layouts GroupLens has shipped, telling them apart from the file itself:

    ml-100k     u.data       user item rating timestamp, tab separated, no header
                u.item       id|title|release|video release|IMDb URL|19 genre flags, Latin-1 (+ u.genre)
    ml-1m/10m   ratings.dat  user::item::rating::timestamp
                movies.dat   id::title::Genre1|Genre2, Latin-1 in ml-1m
    ml-20m/...  ratings.csv  header userId,movieId,rating,timestamp; half stars 0.5..5
                movies.csv   movieId,title,genres; a title with a comma is quoted

A malformed file raises MovieLensFormatError naming the file, the line and what is wrong; so do a
ratings file that is not text (they are read as Latin-1, which any byte decodes), an id beyond 64 bits
and a u.genre beside u.item that is malformed or names another number of genres than u.item's flags.

Preprocessing follows Liang, Krishnan, Hoffman and Jebara, "Variational Autoencoders for
Collaborative Filtering", WWW 2018 (arXiv 1802.05814), and its reference code (dawenl/vae_cf):
keep ratings of four stars or more (`rating > 3.5`), keep users with at least five of them, hold out
whole users ("strong generalization"), and for each held-out user give the model a random 80% of
their items (fold-in) and score it on the other 20% (target).
"""

import csv
import io
import itertools
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

# u.genre of ml-100k, used when u.item comes without it.
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip
RATINGS_FILES = ["u.data", "ratings.dat", "ratings.csv"]
TITLES_FILES = ["u.item", "movies.dat", "movies.csv"]
CSV_RATINGS_HEADER = ["userId", "movieId", "rating", "timestamp"]
CSV_TITLES_HEADER = ["movieId", "title", "genres"]
UTF8_BOM = b"\xef\xbb\xbf"  # which a file saved by some editors starts with
SHOWN_CHARACTERS = 200  # of a bad line (its repr) in an error message: a binary file has long "lines"
INT64_MAX = 2**63 - 1  # the largest id: ids are int64, and a larger one would wrap or merge with another
EXACT_FLOAT = 2**53  # from it on a float64 no longer holds every integer: ids read as decimals merge


class MovieLensFormatError(ValueError):
    """A MovieLens file that does not have the layout its format promises."""


def _fail(path, line, what, text=None):
    shown = ""
    if text is not None:
        shown = repr(text.rstrip("\r\n"))
        shown = ": " + (shown if len(shown) <= SHOWN_CHARACTERS else shown[:SHOWN_CHARACTERS] + "...")
    raise MovieLensFormatError(f"{path}: line {line}: {what}{shown}")


def _read_text(path):
    """The whole file as text: UTF-8 when it decodes, else Latin-1 (ml-100k and ml-1m are Latin-1)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")  # without a byte order mark, if there is one
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _line(path, number):
    """Line `number` (1-based) of a file, for error messages."""
    with open(path, encoding="latin-1") as f:
        return next(itertools.islice(f, number - 1, None), "")


def _first_line(path):
    with open(path, encoding="latin-1") as f:
        first = f.readline().removeprefix(UTF8_BOM.decode("latin-1"))
    if not first.strip():
        _fail(path, 1, "the file is empty or starts with a blank line")
    return first


def ml100k_folder():
    """Where MovieLens 100K is: the folder the environment variable MOVIELENS_100K names, or
    ../shared/data/ml-100k beside the repository (the files are never part of it)."""
    repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.environ.get("MOVIELENS_100K") or os.path.normpath(
        os.path.join(repository, "..", "shared", "data", "ml-100k")
    )


def locate(directory):
    """(ratings path, titles path or None) of a MovieLens folder such as ml-100k/ or ml-20m/."""
    found = {name: os.path.join(directory, name) for name in RATINGS_FILES + TITLES_FILES}
    found = {name: path for name, path in found.items() if os.path.isfile(path)}
    ratings = next((found[n] for n in RATINGS_FILES if n in found), None)
    if ratings is None:
        raise FileNotFoundError(f"no MovieLens ratings file ({', '.join(RATINGS_FILES)}) in {directory}")
    return ratings, next((found[n] for n in TITLES_FILES if n in found), None)


def ratings_format(path):
    """'ml-100k' (tab separated), 'ml-1m' (`::` separated) or 'csv' (ml-20m/ml-latest), from line 1."""
    first = _first_line(path)
    if "::" in first:
        return "ml-1m"
    if "\t" in first:
        return "ml-100k"
    if first.strip().split(",")[:3] == CSV_RATINGS_HEADER[:3]:
        return "csv"
    _fail(
        path,
        1,
        "not a MovieLens ratings file (expected tab-separated user item rating timestamp, "
        "'::'-separated fields, or the header userId,movieId,rating,timestamp)",
        first,
    )


RATINGS_COLUMNS = ["user", "item", "rating", "timestamp", "_extra"]  # _extra catches a fifth field


def load_ratings(path):
    """Ratings of a MovieLens file as a DataFrame (user, item, rating) with the original ids.

    user and item are int64, rating float64 (1..5, or 0.5..5 in half stars for the csv format).
    df.attrs["format"] says which layout was read.
    """
    fmt = ratings_format(path)
    table = _read_ratings_table(path, fmt)
    numbers = {c: pd.to_numeric(table[c], errors="coerce") for c in RATINGS_COLUMNS[:4]}
    _check_ratings(path, fmt, table, numbers)
    ratings = pd.DataFrame(
        {
            "user": numbers["user"].to_numpy(np.int64),
            "item": numbers["item"].to_numpy(np.int64),
            "rating": numbers["rating"].to_numpy(np.float64),
        }
    )
    ratings.attrs["format"] = fmt
    return ratings


def _read_ratings_table(path, fmt):
    """The fields of every non-blank line, as text, indexed by line (0 = the first data line)."""
    header_lines = 1 if fmt == "csv" else 0
    with open(path, "rb") as f:
        if f.read(len(UTF8_BOM)) != UTF8_BOM:
            f.seek(0)
        # pandas' C parser is fast but knows only one-character separators: turn '::' into tabs first.
        source = io.StringIO(_read_text(path).replace("::", "\t")) if fmt == "ml-1m" else f
        try:
            with warnings.catch_warnings():  # a long first line: reported below as "found more"
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                table = pd.read_csv(
                    source,
                    sep="," if fmt == "csv" else "\t",
                    header=None,
                    names=RATINGS_COLUMNS,
                    skiprows=header_lines,
                    skip_blank_lines=False,  # keep row i on file line i + 1 + header_lines
                    index_col=False,
                    low_memory=False,
                    # Ratings are numbers: Latin-1 decodes every byte, so a stray non-UTF-8 byte or a
                    # binary file reaches the checks below as a malformed line, and a '"' is no quote.
                    encoding="latin-1",
                    quoting=csv.QUOTE_NONE,
                )
        except pd.errors.ParserError as error:  # six or more fields on a line
            match = re.search(r"line (\d+), saw (\d+)", str(error))
            if not match:
                raise MovieLensFormatError(f"{path}: {error}") from error
            line = int(match.group(1))
            _fail(path, line, f"expected 4 fields, found {match.group(2)}", _line(path, line))
    fields = RATINGS_COLUMNS[:4]
    return table[table[fields].notna().any(axis=1) | table["_extra"].notna()]  # blank lines are harmless


def _check_ratings(path, fmt, table, numbers):
    """Each check marks its bad rows; the earliest bad line of the file is reported (MovieLensFormatError)."""
    fields = RATINGS_COLUMNS[:4]
    checks = [
        (table["_extra"].notna(), "expected 4 fields, found more"),
        (table[fields].isna().any(axis=1), "expected 4 fields, found fewer (or an empty field)"),
    ]
    for column in fields:
        checks.append((numbers[column].isna() & table[column].notna(), f"non-numeric {column}"))
    for column in ("user", "item"):
        value = numbers[column]
        checks.append(((value % 1 != 0) | (value < 0), f"{column} id is not a non-negative integer"))
        checks += _id_size_checks(column, value)
    rating = numbers["rating"]
    if fmt == "csv":
        out_of_range = (rating < 0.5) | (rating > 5) | (rating * 2 % 1 != 0)
        checks.append((out_of_range, "rating out of range (expected 0.5 to 5 in half stars)"))
    else:
        out_of_range = (rating < 1) | (rating > 5) | (rating % 1 != 0)
        checks.append((out_of_range, "rating out of range (expected an integer 1 to 5)"))
    bad = [(mask.to_numpy().argmax(), what) for mask, what in checks if mask.any()]
    if bad:
        row, what = min(bad, key=lambda b: b[0])
        line = table.index[row] + 1 + (1 if fmt == "csv" else 0)
        what = what(table, row) if callable(what) else what  # a message that names the bad value
        _fail(path, line, what, _line(path, line))


def _id_size_checks(column, value):
    """(mask, message) of the ids int64 cannot hold exactly: pandas reads an id beyond 64 bits as a
    uint64 or a float, and a float column (an id written '2.0' makes one) rounds ids from 2**53 on."""
    decimals = value.dtype.kind == "f"
    beyond = value >= 2.0**63 if decimals else value > INT64_MAX

    def too_big(table, row):  # names the id as the file gives it
        return (
            f"{column} id {table[column].iloc[row]} is beyond 64 bits (the largest is {INT64_MAX}); "
            f"renumber the {column}s with smaller ids"
        )

    checks = [(beyond, too_big)]
    if decimals:
        inexact = (
            f"{column} id of 2**53 or more in a column where some ids are written as decimals ('2.0'), which "
            f"cannot hold it exactly; write every {column} id as a whole number"
        )
        checks.append(((value >= EXACT_FLOAT) & ~beyond, inexact))
    return checks


def load_titles(path):
    """Titles of a MovieLens movie file as a DataFrame (item, title, genres) with genres a list."""
    first = _first_line(path)
    lines = _read_text(path).splitlines()
    if first.strip().split(",") == CSV_TITLES_HEADER:
        rows = _titles_csv(path, lines)
    elif "::" in first:
        rows = _titles_dat(path, lines)
    elif "|" in first:
        rows = _titles_item(path, lines)
    else:
        _fail(path, 1, "not a MovieLens titles file (expected u.item, movies.dat or movies.csv)", first)
    titles = pd.DataFrame(rows, columns=["item", "title", "genres"])
    titles["item"] = titles["item"].astype(np.int64)
    return titles


def _item_id(path, number, text, field):
    if not re.fullmatch(r"[0-9]+", field.strip()):  # not isdigit(), which passes '²' that int() refuses
        _fail(path, number, f"movie id {field!r} is not a non-negative integer", text)
    if int(field) > INT64_MAX:
        beyond = f"movie id {field.strip()} is beyond 64 bits (the largest is {INT64_MAX})"
        _fail(path, number, f"{beyond}; renumber the movies with smaller ids", text)
    return int(field)


GENRE_FIX = "correct the line, or remove u.genre to use ml-100k's 19 genres"


def _genre_names(genre_file):
    """The genres of u.genre in the order of u.item's flag columns: a line "name|index" per genre, the
    indices 0 to n-1 in any order (blank lines are skipped)."""
    numbered = [(n, text) for n, text in enumerate(_read_text(genre_file).splitlines(), 1) if text.strip()]
    if not numbered:
        _fail(
            genre_file,
            1,
            "no genres (expected a line 'name|index' per genre); fill it in, or remove it to use "
            "ml-100k's 19 genres",
        )
    names, seen = [None] * len(numbered), {}  # seen: index -> the line that gave it
    for number, text in numbered:
        fields = text.split("|")
        if len(fields) != 2 or not fields[0].strip() or not re.fullmatch(r"[0-9]+", fields[1].strip()):
            _fail(genre_file, number, f"expected 'name|index' such as 'Action|1'; {GENRE_FIX}", text)
        index = int(fields[1])
        if index >= len(numbered):
            what = f"index {index} out of range: {len(numbered)} genres are numbered 0 to {len(numbered) - 1}"
            _fail(genre_file, number, f"{what}; {GENRE_FIX}", text)
        if index in seen:
            _fail(genre_file, number, f"index {index} again (line {seen[index]} has it); {GENRE_FIX}", text)
        names[index], seen[index] = fields[0], number
    return names


def _check_genre_count(genre_file, genres, path, number, flags):
    """u.item's first line is well formed but has another number of genre flags than u.genre names:
    the error is u.genre's (a genre missing or extra), shown with the u.item line that shows it."""
    if not flags or any(flag not in ("0", "1") for flag in flags):
        return  # not a clean line of flags: u.item's own error
    missing = len(flags) - len(genres)
    how = f"{missing} fewer" if missing > 0 else f"{-missing} more"
    raise MovieLensFormatError(
        f"{genre_file}: names {len(genres)} genres, {how} than the {len(flags)} genre flags of {path} line "
        f"{number}; give u.genre a line 'name|index' per flag (indices 0 to {len(flags) - 1}), or remove "
        "it to use ml-100k's 19 genres"
    )


def _titles_item(path, lines):
    """ml-100k u.item: id|title|release date|video release date|IMDb URL|one 0/1 flag per genre."""
    genre_file = os.path.join(os.path.dirname(path), "u.genre")
    own_genres = os.path.isfile(genre_file)
    genres = _genre_names(genre_file) if own_genres else ML100K_GENRES
    rows = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        fields = text.split("|")
        if len(fields) != 5 + len(genres):
            if own_genres and not rows:  # the first line: does u.genre match u.item's columns?
                _check_genre_count(genre_file, genres, path, number, fields[5:])
            _fail(path, number, f"expected {5 + len(genres)} '|'-separated fields, found {len(fields)}", text)
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            _fail(path, number, "genre flags must be 0 or 1", text)
        chosen = [name for name, flag in zip(genres, flags, strict=True) if flag == "1"]
        rows.append((_item_id(path, number, text, fields[0]), fields[1], chosen))
    return rows


def _split_genres(field):
    return [] if field in ("", "(no genres listed)") else field.split("|")


def _titles_dat(path, lines):
    """ml-1m movies.dat: id::title::Genre1|Genre2."""
    rows = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        fields = text.split("::")
        if len(fields) != 3:
            _fail(path, number, f"expected 3 '::'-separated fields, found {len(fields)}", text)
        rows.append((_item_id(path, number, text, fields[0]), fields[1], _split_genres(fields[2])))
    return rows


def _titles_csv(path, lines):
    """ml-20m/ml-latest movies.csv: movieId,title,genres with titles quoted when they hold commas."""
    rows = []
    for number, text in enumerate(lines[1:], 2):
        if not text.strip():
            continue
        try:  # one record per line in MovieLens; csv.reader undoes the quoting of titles with commas
            fields = next(csv.reader([text], strict=True))
        except csv.Error as error:
            _fail(path, number, f"bad quoting ({error})", text)
        if len(fields) != 3:
            _fail(path, number, f"expected 3 comma-separated fields, found {len(fields)}", text)
        rows.append((_item_id(path, number, text, fields[0]), fields[1], _split_genres(fields[2])))
    return rows


@dataclass
class Interactions:
    """Implicit feedback: matrix[u, i] = 1 when user u liked item i."""

    matrix: object  # scipy.sparse.csr_array (n_users, n_items), float32 ones
    user_ids: np.ndarray  # (n_users,) original MovieLens user id of each row
    item_ids: np.ndarray  # (n_items,) original MovieLens movie id of each column


def binarize(ratings, threshold=3.5, min_positives=5):
    """The Mult-VAE preprocessing: positives are ratings above `threshold`, users need `min_positives`.

    vae_cf keeps `rating > 3.5`, which is "four stars or more" on both the integer (ml-100k, ml-1m) and
    the half-star scale (ml-20m): a 3.5 is not a positive. Rows and columns are the kept users and the
    items any of them liked, in increasing order of original id.
    """
    from scipy import sparse

    liked = ratings.loc[ratings["rating"] > threshold, ["user", "item"]].drop_duplicates()
    counts = liked.groupby("user").size()
    liked = liked[liked["user"].isin(counts.index[counts >= min_positives])]
    user_ids, rows = np.unique(liked["user"].to_numpy(), return_inverse=True)
    item_ids, columns = np.unique(liked["item"].to_numpy(), return_inverse=True)
    ones = np.ones(len(rows), dtype=np.float32)
    matrix = sparse.csr_array((ones, (rows, columns)), shape=(len(user_ids), len(item_ids)))
    return Interactions(matrix, user_ids, item_ids)


@dataclass
class Split:
    """Strong generalization: the model trains on `train` and is scored on users it never saw."""

    train: object  # csr (n_train_users, n_kept_items)
    fold_in: object  # csr (n_heldout_users, n_kept_items): what the model sees of a held-out user
    target: object  # csr (n_heldout_users, n_kept_items): what it must rank highly; no overlap with fold_in
    train_users: np.ndarray  # (n_train_users,) row of each training user in the input matrix
    heldout_users: np.ndarray  # (n_heldout_users,) row of each held-out user in the input matrix
    items: np.ndarray  # (n_kept_items,) column of each kept item in the input matrix


FOLD_IN = 0.8  # share of a held-out user's items the model is shown (Liang et al. 2018)


def strong_generalization_split(matrix, n_heldout_users, rng, fold_in=FOLD_IN, min_items=5):
    """Hold out whole users; split each held-out user's items at random into fold-in and target.

    n_heldout_users is a count (chosen at random) or the row indices themselves (one of `folds`).
    As vae_cf: a held-out user with at least `min_items` items gets floor(20% of them) as targets
    (at least one), the rest as fold-in; one with fewer keeps them all as fold-in and has no target.
    """
    from scipy import sparse

    matrix = sparse.csr_array(matrix)
    n_users = matrix.shape[0]
    if np.ndim(n_heldout_users) == 0:
        if not 1 <= n_heldout_users < n_users:
            raise ValueError(f"n_heldout_users must be between 1 and {n_users - 1}, got {n_heldout_users}")
        heldout = np.sort(rng.choice(n_users, size=int(n_heldout_users), replace=False))
    else:
        heldout = np.unique(np.asarray(n_heldout_users, dtype=np.int64))
    if not 0 < fold_in < 1:
        raise ValueError(f"fold_in must be a fraction between 0 and 1, got {fold_in}")
    train_users = np.setdiff1d(np.arange(n_users), heldout)
    train = matrix[train_users]
    # vae_cf keeps only the items that training users have (unique_sid comes from train_plays) and
    # drops every other item of the held-out users before their split: a model has no output for an
    # item it never saw in training, so such targets could only ever count as misses.
    items = np.flatnonzero(train.sum(axis=0) > 0)
    train, held = train[:, items], matrix[heldout][:, items]

    held = held.tocoo()
    n_items = np.bincount(held.row, minlength=len(heldout))  # (n_heldout,)
    # round() first: (1 - 0.8) * 10 is 1.9999999999999996 in floating point, and floor would give 1.
    n_target = np.floor(np.round((1 - fold_in) * n_items, 9)).astype(np.int64)
    n_target[n_items < min_items] = 0
    # A random rank of each entry within its row (sort by row, then by a random key); the first
    # n_target[row] ranks become targets: a uniform random subset of that size per user.
    order = np.lexsort((rng.random(held.nnz), held.row))
    rank = np.empty(held.nnz, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(n_items)[:-1]])  # (n_heldout,) first entry of each row
    rank[order] = np.arange(held.nnz) - starts[held.row[order]]
    is_target = rank < n_target[held.row]

    def part(mask):
        return sparse.csr_array((held.data[mask], (held.row[mask], held.col[mask])), shape=held.shape)

    return Split(train, part(~is_target), part(is_target), train_users, heldout, items)


def folds(n_users, n_folds, rng, n_heldout=None):
    """Disjoint sets of held-out users (sorted row indices), one per fold, for `--folds F`.

    Without n_heldout the users are partitioned into n_folds nearly equal parts (cross-validation);
    with it every fold holds out n_heldout users and the folds stay disjoint.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds must be at least 1, got {n_folds}")
    order = rng.permutation(n_users)
    if n_heldout is None:
        if n_folds < 2:
            raise ValueError("a partition needs n_folds >= 2; pass n_heldout for a single fold")
        return [np.sort(part) for part in np.array_split(order, n_folds)]
    if n_heldout < 1 or n_folds * n_heldout >= n_users:
        raise ValueError(
            f"{n_folds} disjoint folds of {n_heldout} held-out users need more than {n_folds * n_heldout} "
            f"users (there are {n_users}); lower --folds or the held-out size"
        )
    return [np.sort(order[f * n_heldout : (f + 1) * n_heldout]) for f in range(n_folds)]
