"""Reading your own CSV: values round-trip, and every kind of bad table gets a one-line error."""

import numpy as np
import pytest

from common.tabular import MAX_NAMED, MIN_ROWS, TableError, constant_note, load_table


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
        (
            _binary_table().replace(",1,", ",0,").replace(",1,", ",0,"),
            {},
            "every feature column is constant ('fever', 'cough'), so there is nothing to learn from; keep",
        ),
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


def test_constant_columns_are_dropped_at_once_and_named_in_one_note(tmp_path):
    lines = ["id,a,px0,b,px7,px9,k"] + [f"r{i},{i},0,{i % 3},2.5,1,{i % 2}" for i in range(12)]
    table = load_table(
        _write(tmp_path, "\n".join(lines)), binary=False, label_column="k", drop_columns=["id"]
    )
    assert table.feature_names == ["a", "b"] and table.x.shape == (12, 2)
    np.testing.assert_array_equal(table.x[:4], [[0, 0], [1, 1], [2, 2], [3, 0]])
    assert table.dropped_constant == ["px0", "px7", "px9"]
    assert constant_note(table) == (
        "dropped 3 constant columns, which carry no information: 'px0', 'px7', 'px9'"
    )


def test_the_note_names_one_column_in_the_singular_and_many_up_to_a_limit(tmp_path):
    one = ["a,b"] + [f"{i},7" for i in range(12)]
    table = load_table(_write(tmp_path, "\n".join(one)), binary=False)
    assert constant_note(table) == "dropped 1 constant column, which carries no information: 'b'"
    n = MAX_NAMED + 5
    many = [",".join(f"c{j}" for j in range(n)) + ",v"] + [",".join(["0"] * n) + f",{i}" for i in range(12)]
    table = load_table(_write(tmp_path, "\n".join(many)), binary=False)
    assert table.feature_names == ["v"] and len(table.dropped_constant) == n
    assert constant_note(table).endswith(f"'c{MAX_NAMED - 1}' and 5 more")
    full = load_table(_write(tmp_path, _real_table()), binary=False)
    assert full.dropped_constant == [] and constant_note(full) is None


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


def _real_table(rows=40, y=None):
    """x, y over `rows` rows; `y` maps a row (1 = the first data row) to the text put in its y cell."""
    y = y or {}
    return "x,y\n" + "".join(f"{i * 0.5},{y.get(i + 1, -3e2 + i)}\n" for i in range(rows))


@pytest.mark.parametrize(("value", "row"), [("1e300", 5), ("-4e38", 1), ("3e17", 3)])
def test_values_beyond_float32_are_refused_naming_column_row_and_value(tmp_path, value, row):
    with pytest.raises(TableError) as info:
        load_table(_write(tmp_path, _real_table(y={row: value})), binary=False)
    message = str(info.value)
    assert f"column 'y', row {row}: '{value}' is too large for 32-bit floats" in message
    assert "rescale the column" in message and "\n" not in message and str(tmp_path) in message


def test_values_at_the_limit_still_load(tmp_path):
    """40 rows: the limit is a tenth of sqrt(float32 max / 40), 2.9e17."""
    table = load_table(_write(tmp_path, _real_table(y={5: "-2.5e17"})), binary=False)
    assert np.isfinite(table.x).all() and table.x[4, 1] == np.float32(-2.5e17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every row one field too many: pandas would make column 1 the index and shift the values left
        (
            "a,b\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(12)),
            "line 2 has 3 fields but the header has 2 columns",
        ),
        # one row in the middle
        (_real_table(y={7: "-294.0,7"}), "line 8 has 3 fields but the header has 2 columns"),
        # the first bad line is named, not a later, wider one
        ("a,b\n1,2,3\n" + "".join(f"{i},{i * 2}\n" for i in range(12)) + "1,2,3,4\n", "line 2 has 3 fields"),
        # ';' between fields and decimal commas (a European spreadsheet's CSV)
        (
            "a;b\n" + "".join(f"{i},{i % 7};{i % 3},5\n" for i in range(12)),
            "line 2 has 3 fields but the header has 1 column;",
        ),
    ],
    ids=["every-row", "one-row", "first-of-two", "semicolons-and-decimal-commas"],
)
def test_rows_with_more_fields_than_the_header_are_refused_naming_the_line(tmp_path, text, expected):
    with pytest.raises(TableError) as info:
        load_table(_write(tmp_path, text), binary=False)
    message = str(info.value)
    assert expected in message and "decimal commas" in message
    assert "\n" not in message and str(tmp_path) in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_real_table(y={5: "1e300"}), "column 'y', row 5: '1e300' is too large"),
        ("a;b\n" + "".join(f"{i},{i % 7};{i % 3},5\n" for i in range(40)), "line 2 has 3 fields"),
    ],
    ids=["beyond-float32", "semicolons"],
)
def test_the_demo_exits_2_with_one_line_instead_of_training_on_them(tmp_path, capsys, text, expected):
    import cuisine_dlvm

    data = _write(tmp_path, text)
    with pytest.raises(SystemExit) as info:
        cuisine_dlvm.main(["--epochs", "1", "--data", str(data), "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --data: {data}: {expected}" in err and err.count("\n") == 1
