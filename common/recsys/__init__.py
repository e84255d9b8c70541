"""Recommenders on user-item data: MovieLens files, ranking metrics, Mult-VAE's folds and rating prediction.

- movielens.py  readers of MovieLens ratings and titles, binarising, folds, the fold-in split
- ranking.py    NDCG@K, Recall@K, popularity and EASE
- recommend.py  an implicit-feedback run over folds, as Liang et al. (2018) evaluate Mult-VAE

docs/movielens.md describes the runs and their results.
"""
