"""Reading your own CSV: values round-trip, and every kind of bad table gets a one-line error."""

import numpy as np
import pytest

from common.tabular import MIN_ROWS, TableError, load_table


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _binary_table(rows=12):
    lines = ["id,fever,cough,diagnosis"]
    for i in range(rows):
        lines.append(f"p{i},{i % 2},{(i // 2) % 2},{'flu' if i % 3 else 'cold'}")
    return "\n".join(lines) + "\n"


def test_binary_table_round_trips_with_labels_and_dropped_columns(tmp_path):
    path = _write(tmp_path, _binary_table())
    table = load_table(path, binary=True, label_column="diagnosis", drop_columns=["id"])
    assert table.feature_names == ["fever", "cough"]
    np.testing.assert_array_equal(table.x[:4], [[0, 0], [1, 0], [0, 1], [1, 1]])
    assert table.class_names == ["cold", "flu"]
    np.testing.assert_array_equal(table.labels[:4], [0, 1, 1, 0])
    assert table.x.dtype == np.float32


def test_numeric_class_names_sort_as_numbers(tmp_path):
    lines = ["a,b,k"] + [f"{i},{i * i % 7},{[2, 10, 1][i % 3]}" for i in range(12)]
    table = load_table(_write(tmp_path, "\n".join(lines)), binary=False, label_column="k")
    assert table.class_names == ["1", "2", "10"]


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (_binary_table().replace("p3,1,1,", "p3,,1,"), {}, "column 'fever' has a missing value in row 4"),
        (_binary_table().replace("p3,1,1,", "p3,yes,1,"), {}, "column 'fever', row 4: 'yes' is not a number"),
        (_binary_table().replace("p3,1,1,", "p3,2,1,"), {}, "column 'fever', row 4: '2' is not 0 or 1"),
        (_binary_table(rows=1), {}, f"1 data row(s); need at least {MIN_ROWS}"),
        (_binary_table().replace(",1,", ",0,").replace(",1,", ",0,"), {}, "is constant"),
        (
            _binary_table(),
            {"label_column": "disease"},
            "--label-column names 'disease', which is not a column",
        ),
        (_binary_table(), {"drop_columns": ["name"]}, "--drop-columns names 'name', which is not a column"),
        (
            _binary_table().replace(",cold\n", ",\n", 1),
            {"label_column": "diagnosis"},
            "column 'diagnosis' has a",
        ),
    ],
)
def test_bad_tables_get_one_line_errors_naming_column_and_row(tmp_path, text, kwargs, expected):
    kwargs.setdefault("drop_columns", ["id"])
    if "label_column" not in kwargs:
        kwargs["drop_columns"] = [*kwargs["drop_columns"], "diagnosis"]
    with pytest.raises(TableError) as info:
        load_table(_write(tmp_path, text), binary=True, **kwargs)
    message = str(info.value)
    assert expected in message and "\n" not in message and str(tmp_path) in message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(TableError, match="no such file"):
        load_table(tmp_path / "nope.csv", binary=False)
    empty = _write(tmp_path, "")
    with pytest.raises(TableError, match="cannot read it as CSV"):
        load_table(empty, binary=False)


def test_real_valued_tables_accept_any_finite_number(tmp_path):
    lines = ["x,y"] + [f"{i * 0.5},{-3e2 + i}" for i in range(12)]
    table = load_table(_write(tmp_path, "\n".join(lines)), binary=False)
    np.testing.assert_allclose(table.x[:, 0], np.arange(12) * 0.5)
    assert table.labels is None and table.class_names is None
