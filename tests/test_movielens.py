"""MovieLens loaders on tiny files of each layout, their errors, the Mult-VAE preprocessing and split."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from common.recsys.movielens import (
    MovieLensFormatError,
    binarize,
    folds,
    load_ratings,
    load_titles,
    locate,
    ratings_format,
    strong_generalization_split,
)


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


# The same four ratings in the three layouts.
U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n\n22\t377\t1\t878887116\n244\t51\t2\t880606923\n"
RATINGS_DAT = "1::1193::5::978300760\n1::661::3::978302109\n2::914::3::978301968\n"
RATINGS_CSV = (
    "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n2,10,4.5,835355493\n"
)


def test_reads_the_three_rating_layouts(tmp_path):
    data = load_ratings(_write(tmp_path, "u.data", U_DATA))
    assert data.attrs["format"] == "ml-100k" and list(data.columns) == ["user", "item", "rating"]
    assert data["user"].tolist() == [196, 186, 22, 244] and data["rating"].tolist() == [3, 3, 1, 2]
    assert data["user"].dtype == np.int64 and data["rating"].dtype == np.float64
    dat = load_ratings(_write(tmp_path, "ratings.dat", RATINGS_DAT))
    assert dat.attrs["format"] == "ml-1m" and dat["item"].tolist() == [1193, 661, 914]
    half = load_ratings(_write(tmp_path, "ratings.csv", RATINGS_CSV))
    assert half.attrs["format"] == "csv" and half["rating"].tolist() == [2.5, 3.0, 4.5]


def test_format_comes_from_the_content_not_the_name(tmp_path):
    assert ratings_format(_write(tmp_path, "anything.txt", RATINGS_CSV)) == "csv"
    assert ratings_format(_write(tmp_path, "other.txt", RATINGS_DAT)) == "ml-1m"
    with pytest.raises(MovieLensFormatError, match=r"line 1: not a MovieLens ratings file"):
        load_ratings(_write(tmp_path, "bad.csv", "user,item,score\n1,2,3\n"))
    with pytest.raises(MovieLensFormatError, match="empty"):
        load_ratings(_write(tmp_path, "empty.data", ""))


BIG_ID = "99999999999999999999999"  # beyond 64 bits


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("u.data", "1\t2\t3\t4\n1\t2\t3\n", 2, "found fewer"),
        ("u.data", "1\t2\t3\t4\n1\t3\t4\t5\n1\t2\t3\t4\t5\n", 3, "expected 4 fields, found more"),
        ("u.data", "1\t2\t3\t4\n1\t2\t3\t4\t5\t6\n", 2, "expected 4 fields, found 6"),
        ("u.data", "1\t2\t3\t4\n1\t2\tgood\t4\n", 2, "non-numeric rating"),
        ("u.data", "1\t2\t3\t4\n1\t2\t6\t4\n", 2, "rating out of range"),
        ("u.data", "1\t2\t3\t4\n1\t2\t3.5\t4\n", 2, "rating out of range"),
        ("u.data", "1\t2\t3\t4\nx\t2\t3\t4\n", 2, "non-numeric user"),
        ("ratings.dat", "1::2::3::4\n1::2::0::4\n", 2, "rating out of range"),
        ("ratings.dat", "1::2::3::4\n\n1::2::3\n", 3, "found fewer"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,4\n1,2,3.25,4\n", 3, "rating out of range"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,4\n1,2.5,3,4\n", 3, "item id is not"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,2,three,4\n", 2, "non-numeric rating"),
        ("u.data", '1\t2\t3\t4\n"1\t2\t3\t4\n1\t2\t3\t4\n', 2, "non-numeric user"),  # no quoting
        # Ids int64 cannot hold would wrap or merge with another user's: beyond 64 bits, as text, as a
        # uint64 or as a float; and a 17-digit id in a column that a '2.0' makes float64.
        ("u.data", f"1\t2\t3\t4\n{BIG_ID}\t2\t3\t4\n", 2, f"user id {BIG_ID} is beyond 64 bits"),
        ("u.data", "1\t2\t3\t4\n1\t18446744073709551615\t3\t4\n", 2, "item id 18446744073709551615 is"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1e30,2,3.5,4\n", 2, "user id 1e\\+30 is beyond"),
        (
            "ratings.csv",
            "userId,movieId,rating,timestamp\n9007199254740993,2,3,4\n2.0,2,3,4\n",
            2,
            r"user id of 2\*\*53 or more",
        ),
    ],
)
def test_malformed_ratings_name_the_file_and_line(tmp_path, name, text, line, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(MovieLensFormatError, match=rf"^{path}: line {line}: .*{message}") as caught:
        load_ratings(path)
    assert "\n" not in str(caught.value)  # one line
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("u.data", b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t\xe9377\t1\t878887116\n", "item"),
        ("ratings.dat", b"1::1193::5::978300760\n1::661::3::978302109\n2::914::\xe93::978301968\n", "rating"),
        (
            "ratings.csv",
            b"userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n\xe91,10,4.5,835355493\n",
            "user",
        ),
    ],
)
def test_a_byte_that_is_not_utf8_is_a_malformed_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_bytes(text)
    with pytest.raises(MovieLensFormatError, match=rf"^{path}: line 3: non-numeric {message}: '.*\xe9"):
        load_ratings(str(path))


def test_the_largest_64_bit_id_is_read_exactly(tmp_path):
    ratings = load_ratings(_write(tmp_path, "u.data", "9223372036854775807\t9223372036854775806\t3\t4\n"))
    assert ratings["user"].tolist() == [2**63 - 1] and ratings["item"].tolist() == [2**63 - 2]


def test_a_binary_file_is_no_ratings_file_and_says_so_in_one_short_line(tmp_path):
    path = tmp_path / "x.bin"
    for seed in range(20):  # random bytes: tabs, quotes, NULs and carriage returns anywhere
        path.write_bytes(np.random.default_rng(seed).bytes(2000))
        with pytest.raises(MovieLensFormatError, match=rf"^{path}: line \d+: ") as caught:
            load_ratings(str(path))
        message = str(caught.value)
        assert "\n" not in message and len(message) - len(str(path)) < 400, message  # long lines cut short


def test_a_long_first_line_is_reported_without_a_pandas_warning(tmp_path):
    path = _write(tmp_path, "u.data", "1\t2\t3\t4\t5\t6\t7\n1\t2\t3\t4\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' ParserWarning would be a second line on stderr
        with pytest.raises(MovieLensFormatError, match=r"line 1: expected 4 fields, found more"):
            load_ratings(path)


def test_a_byte_order_mark_is_skipped(tmp_path):
    bom = "\ufeff"
    for name, text in (("u.data", U_DATA), ("ratings.dat", RATINGS_DAT), ("ratings.csv", RATINGS_CSV)):
        plain = load_ratings(_write(tmp_path, name, text))
        pd.testing.assert_frame_equal(load_ratings(_write(tmp_path, "bom_" + name, bom + text)), plain)
    titles = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
    assert load_titles(_write(tmp_path, "movies.csv", bom + titles))["title"].tolist() == ["Toy Story (1995)"]
    dat = "1::Toy Story (1995)::Animation\n"
    assert load_titles(_write(tmp_path, "movies.dat", bom + dat))["item"].tolist() == [1]


GENRE_FILE = "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\nDocumentary|7\n"
GENRE_FILE += "Drama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\n"
GENRE_FILE += "Thriller|16\nWar|17\nWestern|18\n\n"


def _u_item_line(item, title, genres):
    names = [line.split("|")[0] for line in GENRE_FILE.splitlines() if line]
    flags = ["1" if g in genres else "0" for g in names]
    return "|".join([str(item), title, "01-Jan-1995", "", "http://us.imdb.com/x", *flags])


def test_reads_the_three_title_layouts(tmp_path):
    u_item = _u_item_line(1, "Toy Story (1995)", ["Animation", "Children's", "Comedy"]) + "\n"
    u_item += _u_item_line(1322, "Metisse (Café au Lait) (1993)", ["Comedy"]) + "\n"
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    _write(folder, "u.genre", GENRE_FILE)
    titles = load_titles(_write(folder, "u.item", u_item, encoding="latin-1"))
    assert titles["title"].tolist() == ["Toy Story (1995)", "Metisse (Café au Lait) (1993)"]
    assert titles["genres"].tolist() == [["Animation", "Children's", "Comedy"], ["Comedy"]]
    assert titles["item"].tolist() == [1, 1322]
    # Without u.genre beside it the known ml-100k genre list is used.
    assert load_titles(_write(tmp_path, "u.item", u_item, encoding="latin-1"))["genres"][1] == ["Comedy"]

    dat = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Misérables, Les (1995)::Drama|Musical\n"
    titles = load_titles(_write(tmp_path, "movies.dat", dat, encoding="latin-1"))
    assert titles["title"].tolist() == ["Toy Story (1995)", "Misérables, Les (1995)"]
    assert titles["genres"][1] == ["Drama", "Musical"]

    csv_text = (
        'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n11,"American President, The (1995)",'
    )
    csv_text += "Comedy|Drama|Romance\n208,Unknown (2015),(no genres listed)\n"
    titles = load_titles(_write(tmp_path, "movies.csv", csv_text))
    assert titles["title"][1] == "American President, The (1995)"
    assert titles["genres"].tolist() == [["Adventure", "Animation"], ["Comedy", "Drama", "Romance"], []]


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        (
            "movies.csv",
            "movieId,title,genres\n1,Toy Story (1995),Comedy\n2,A, B (1995),Drama\n",
            3,
            "3 comma",
        ),
        ("movies.csv", "movieId,title,genres\nx,Toy Story (1995),Comedy\n", 2, "movie id 'x'"),
        (
            "movies.dat",
            "1::Toy Story (1995)::Comedy\n2::Heat (1995)\n",
            2,
            "3 '::'-separated fields, found 2",
        ),
        ("u.item", "1|Toy Story (1995)|01-Jan-1995||url|0|1\n", 1, "expected 24"),
        ("u.item", _u_item_line(1, "A", []).replace("|0|0|0", "|0|2|0", 1) + "\n", 1, "0 or 1"),
        ("movies.csv", f"movieId,title,genres\n{BIG_ID},A,Drama\n", 2, "beyond 64 bits"),
        ("movies.dat", "1::A::Drama\n2²::B::Drama\n", 2, "movie id '2²' is not"),  # isdigit() passes '²'
    ],
)
def test_malformed_titles_name_the_file_and_line(tmp_path, name, text, line, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(MovieLensFormatError, match=rf"^{path}: line {line}: .*{message}"):
        load_titles(path)


GENRES_18 = "".join(GENRE_FILE.splitlines(keepends=True)[:18])  # Western|18 missing


@pytest.mark.parametrize(
    ("genre_file", "where", "message"),
    [
        ("unknown|0\nAction\n", "u.genre: line 2", "expected 'name|index' such as 'Action|1'; correct the"),
        ("unknown|0\nAction|one\n", "u.genre: line 2", "expected 'name|index'"),
        ("unknown|0\n|1\n", "u.genre: line 2", "expected 'name|index'"),
        ("unknown|0\nAction|1|2\n", "u.genre: line 2", "expected 'name|index'"),
        ("unknown|0\n\nAction|7\n", "u.genre: line 3", "index 7 out of range: 2 genres are numbered 0 to 1"),
        ("unknown|0\nAction|0\n", "u.genre: line 2", "index 0 again (line 1 has it)"),
        ("\n\n", "u.genre: line 1", "no genres"),
        (GENRES_18, "u.genre", "names 18 genres, 1 fewer than the 19 genre flags of {item} line 1; give"),
        (GENRE_FILE + "Noir|19\n", "u.genre", "names 20 genres, 1 more than the 19 genre flags of {item}"),
    ],
)
def test_a_malformed_or_short_u_genre_is_blamed_on_u_genre(tmp_path, genre_file, where, message):
    item = _write(tmp_path, "u.item", _u_item_line(1, "A", ["Comedy"]) + "\n")
    _write(tmp_path, "u.genre", genre_file)
    with pytest.raises(MovieLensFormatError) as caught:
        load_titles(item)
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / where}: ") and message.format(item=item) in text, text
    assert "\n" not in text and "remove" in text  # one line, and the fix


def test_u_genre_indices_may_come_in_any_order(tmp_path):
    shuffled = "".join(reversed(GENRE_FILE.splitlines(keepends=True)[:19]))
    item = _write(tmp_path, "u.item", _u_item_line(1, "A", ["Comedy", "Western"]) + "\n")
    _write(tmp_path, "u.genre", shuffled)
    assert load_titles(item)["genres"][0] == ["Comedy", "Western"]


def test_locate_finds_the_files_of_a_folder(tmp_path):
    _write(tmp_path, "ratings.csv", RATINGS_CSV)
    _write(tmp_path, "movies.csv", "movieId,title,genres\n")
    assert locate(str(tmp_path)) == (str(tmp_path / "ratings.csv"), str(tmp_path / "movies.csv"))
    with pytest.raises(FileNotFoundError, match="u.data"):
        locate(str(tmp_path / "nowhere"))


def _ratings(rows):
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def test_binarize_keeps_four_stars_and_users_with_five_positives():
    rows = [(7, i, 4.0) for i in range(5)]  # user 7: five positives -> kept
    rows += [(3, i, 5.0) for i in range(4)] + [(3, 9, 3.0)]  # user 3: four positives and a 3 -> dropped
    rows += [(5, 10 + i, 4.5) for i in range(5)] + [
        (5, 20, 3.5),
        (5, 21, 3.0),
    ]  # half stars: 3.5 is no positive
    interactions = binarize(_ratings(rows))
    assert interactions.user_ids.tolist() == [5, 7]
    assert interactions.item_ids.tolist() == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]
    dense = interactions.matrix.toarray()
    np.testing.assert_array_equal(dense.sum(1), [5, 5])
    assert set(np.unique(dense)) == {0.0, 1.0}
    assert binarize(_ratings(rows), min_positives=4).user_ids.tolist() == [3, 5, 7]


def _random_matrix(rng, n_users=300, n_items=80):
    liked = rng.random((n_users, n_items)) < rng.uniform(0.05, 0.4, size=(n_users, 1))
    return sparse.csr_array(liked.astype(np.float32))


def test_split_gives_each_heldout_user_a_random_fifth_as_targets():
    rng = np.random.default_rng(0)
    matrix = _random_matrix(rng)
    split = strong_generalization_split(matrix, 60, rng)
    assert len(split.heldout_users) == 60 and len(split.train_users) == 240
    assert not set(split.heldout_users) & set(split.train_users)
    fold_in, target = split.fold_in.toarray(), split.target.toarray()
    assert not (fold_in * target).any()  # no held-out item is in the input
    original = matrix.toarray()[split.heldout_users][:, split.items]
    np.testing.assert_array_equal(fold_in + target, original)  # nothing lost, nothing invented
    n_items, n_target = original.sum(1), target.sum(1)
    expected = np.where(n_items >= 5, np.floor(np.round(0.2 * n_items, 9)), 0)
    np.testing.assert_array_equal(n_target, expected)  # floor(20%) per user, as vae_cf
    assert (n_target[n_items >= 5] >= 1).all()
    assert split.train.shape == (240, len(split.items))


def test_split_of_ten_items_is_eight_and_two():
    matrix = sparse.csr_array(np.ones((3, 10), dtype=np.float32))
    split = strong_generalization_split(matrix, np.array([0, 2]), np.random.default_rng(1))
    np.testing.assert_array_equal(split.target.toarray().sum(1), [2, 2])  # not floor(1.999...) = 1
    np.testing.assert_array_equal(split.fold_in.toarray().sum(1), [8, 8])


def test_items_only_heldout_users_have_are_dropped():
    # Item 3 is liked only by held-out user 0: vae_cf keeps the items of training users only.
    liked = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 1, 1], [1, 1, 0, 0, 1, 1]], dtype=np.float32)
    split = strong_generalization_split(sparse.csr_array(liked), [0], np.random.default_rng(2))
    assert split.items.tolist() == [0, 1, 2, 4, 5]
    assert split.fold_in.shape == split.target.shape == (1, 5)
    assert split.fold_in.sum() + split.target.sum() == 5 and split.target.sum() == 1


def test_split_is_reproducible_and_validates():
    matrix = _random_matrix(np.random.default_rng(3))
    a = strong_generalization_split(matrix, 30, np.random.default_rng(4))
    b = strong_generalization_split(matrix, 30, np.random.default_rng(4))
    assert (a.target != b.target).nnz == 0 and (a.heldout_users == b.heldout_users).all()
    with pytest.raises(ValueError, match="n_heldout_users"):
        strong_generalization_split(matrix, 300, np.random.default_rng(0))
    with pytest.raises(ValueError, match="fold_in"):
        strong_generalization_split(matrix, 3, np.random.default_rng(0), fold_in=1.2)


def test_folds_are_disjoint_heldout_sets():
    parts = folds(103, 5, np.random.default_rng(0))
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))  # a partition
    assert {len(p) for p in parts} <= {20, 21}
    fixed = folds(103, 5, np.random.default_rng(0), n_heldout=10)
    assert [len(p) for p in fixed] == [10] * 5 and len(set(np.concatenate(fixed))) == 50
    with pytest.raises(ValueError, match="lower --folds"):
        folds(103, 5, np.random.default_rng(0), n_heldout=30)


def test_real_movielens_100k(ml100k):
    ratings = load_ratings(os.path.join(ml100k, "u.data"))
    assert len(ratings) == 100_000 and ratings["user"].nunique() == 943 and ratings["item"].nunique() == 1682
    titles = load_titles(os.path.join(ml100k, "u.item"))
    assert len(titles) == 1682 and "Café" in titles.loc[titles["item"] == 1322, "title"].item()
    interactions = binarize(ratings)
    shape, positives = interactions.matrix.shape, interactions.matrix.nnz
    print(f"ml-100k after preprocessing: {shape[0]} users, {shape[1]} items, {positives} positives")
    assert shape == (938, 1447) and positives == 55_361  # ratings of 4 or 5 by users with 5 or more
