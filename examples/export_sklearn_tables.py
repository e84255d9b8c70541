"""Write two real tables that ship with scikit-learn as CSV files, to try the demos on real data.

    python examples/export_sklearn_tables.py            # writes examples/data/{breast_cancer,wine}.csv
    python cuisine_dlvm.py --data examples/data/wine.csv --label-column cultivar --standardize --visualize

- breast_cancer.csv: 569 tumours, 30 real-valued measurements of cell nuclei, and `diagnosis`
  (malignant or benign), the Wisconsin diagnostic breast cancer data (Street, Wolberg, Mangasarian 1993).
- wine.csv: 178 wines, 13 chemical measurements, and `cultivar` (class_0, class_1, class_2), the UCI
  wine recognition data (Forina et al.).
The label columns are for scoring only: the models never see them.
"""

import argparse
import os

from sklearn.datasets import load_breast_cancer, load_wine

HERE = os.path.dirname(os.path.abspath(__file__))


def export(out):
    os.makedirs(out, exist_ok=True)
    for name, loader, label in (
        ("breast_cancer", load_breast_cancer, "diagnosis"),
        ("wine", load_wine, "cultivar"),
    ):
        bunch = loader(as_frame=True)
        frame = bunch.frame.drop(columns="target")
        frame[label] = [bunch.target_names[t] for t in bunch.target]
        path = os.path.join(out, f"{name}.csv")
        frame.to_csv(path, index=False)
        print(f"wrote {path}: {len(frame)} rows, {frame.shape[1] - 1} features, label column {label!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", default=os.path.join(HERE, "data"), help="folder for the CSVs (default: examples/data)"
    )
    export(parser.parse_args().out)
