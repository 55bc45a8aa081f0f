"""A numpy fast path for tree ensembles.

scikit-learn predicts with a forest one tree at a time: for each of 100
trees a Python call, input validation and a joblib task, 5-20 ms however
few the rows, holding the GIL for most of it. Here all trees' nodes are
concatenated into flat arrays and every row walks every tree at once, one
numpy step per level: tens of microseconds for one row.

The answer is scikit-learn's, to the last bit where the arithmetic allows
it: rows are cast to float32 before they meet the (float64) thresholds, as
scikit-learn does; a missing value (NaN) goes where the node's
`missing_go_to_left` sends it; the trees' leaf values are added in tree
order starting from the first and divided by the number of trees, as
`ForestClassifier.predict_proba` and `ForestRegressor.predict` do. Scalers
in front are applied as their `transform` does. Like the linear fast path
(`model_service.compiled`), it is used only after it has matched
scikit-learn on probe rows, here with rows exactly at the thresholds and
rows with NaN too; rows it does not take (infinities, or NaN where
scikit-learn refuses NaN or disagreed on it) go to scikit-learn itself.

The module is a little over 300 lines: the flattening, the walk, the
scalers' exact replicas and the probe rows that check them are one
contract (bit-for-bit scikit-learn), read together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_service.compiled import ATOL, RTOL, Kernel, probe_rows
from shared.card import ModelCard

log = logging.getLogger("model_service")

#: Above this many rows scikit-learn's own traversal (compiled, the GIL
#: released) is about as fast as the numpy walk (measured on iris' 100-tree
#: forest: 0.06 ms against 15 ms for one row, 2.5 against 18 ms for 256
#: rows, no faster at 1,024) and needs less memory.
MAX_ROWS = 512

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FlatForest:
    """All trees' nodes in one set of arrays, node i at positions 2i and
    2i + 1 of each (so the next position is one addition away: 2i + 1 when
    the row goes left). A leaf's children are the leaf itself, so a row
    that reached its leaf stays there for the levels deeper trees need."""

    feature: np.ndarray  # (2 * nodes,) feature index; 0 at a leaf
    threshold: np.ndarray  # (2 * nodes,) float64; go left when x <= threshold
    children: np.ndarray  # (2 * nodes,) 2 * right child at 2i, 2 * left at 2i + 1
    missing_left: np.ndarray  # (2 * nodes,) bool: where a NaN goes
    values: np.ndarray  # (2 * nodes, outputs) what a leaf contributes
    roots: np.ndarray  # (trees,) each tree's first position
    depth: int
    n_features: int
    #: the number of trees a forest divides by; None for one tree
    divisor: int | None

    def __call__(self, X32: np.ndarray) -> np.ndarray:
        """Leaf values added over the trees (and averaged, for a forest),
        for C-contiguous float32 rows: (rows, outputs)."""
        n = X32.shape[0]
        flat = X32.ravel()
        offsets = np.arange(n, dtype=np.intp) * self.n_features
        node = np.repeat(self.roots[:, None], n, axis=1)  # (trees, rows)
        has_nan = bool(np.isnan(X32).any())
        for _ in range(self.depth):
            feature = self.feature[node]
            x = flat[feature] if n == 1 else flat[offsets + feature]
            # NaN <= t is False: NaN goes right unless the node says left.
            left = x <= self.threshold[node]
            if has_nan:
                left |= np.isnan(x) & self.missing_left[node]
            node = self.children[node + left]
        # Tree after tree, in order, as scikit-learn accumulates them: a
        # running sum is sequential by definition, where `sum` may add
        # pairwise (and does, for one row) and round differently.
        total = np.cumsum(self.values[node], axis=0)[-1]
        if self.divisor is not None:
            total /= self.divisor
        return total


def compile_trees(
    estimator: Any, card: ModelCard, prepare: Callable[[np.ndarray], Any] | None = None
) -> Kernel | None:
    """`predict_proba` (classifier) or `predict` (regressor) of a decision
    tree, random forest or extra-trees, alone or after standard or min-max
    scalers, as a verified numpy kernel; None for anything else, or when
    the kernel disagrees with scikit-learn on the probe rows."""
    parts = _parts(estimator)
    if parts is None:
        return None
    transforms, inverses, final = parts
    forest = _flatten(final)
    if forest is None or final.n_features_in_ != len(card.features):
        return None
    order = _column_order(estimator, card)
    classifier = hasattr(final, "classes_")
    method = estimator.predict_proba if classifier else estimator.predict

    def reference(X: np.ndarray) -> np.ndarray:
        return np.asarray(method(X if prepare is None else prepare(X)))

    def tree_input(X: np.ndarray) -> np.ndarray:
        Z = X[:, order] if order is not None else X.copy()
        for transform in transforms:
            Z = transform(Z)
        return np.ascontiguousarray(Z, dtype=np.float32)

    def fast(X: np.ndarray) -> np.ndarray:
        out = forest(tree_input(X))
        return out if classifier else out[:, 0]

    probe = probe_rows(card)
    rows = np.vstack([probe, _threshold_rows(forest, probe, transforms, inverses, order)])
    if not _agrees(fast(rows), reference(rows)):
        log.warning(
            "tree fast path disagrees with scikit-learn; not used", extra={"model": card.name}
        )
        return None
    nan_ok = _nan_agrees(fast, reference, rows)

    def kernel(X: np.ndarray) -> np.ndarray:
        if len(X) > MAX_ROWS:
            return reference(X)
        X32 = tree_input(X)
        if not np.isfinite(X32).all() and (not nan_ok or np.isinf(X32).any()):
            return reference(X)  # scikit-learn answers, or refuses, as it always has
        out = forest(X32)
        return out if classifier else out[:, 0]

    return kernel


def _agrees(fast: np.ndarray, reference: np.ndarray) -> bool:
    return fast.shape == reference.shape and np.allclose(fast, reference, rtol=RTOL, atol=ATOL)


def _nan_agrees(fast: Kernel, reference: Kernel, rows: np.ndarray) -> bool:
    """Whether scikit-learn takes NaN (trees fitted by scikit-learn >= 1.3
    do, some types later) and the kernel agrees with it on rows with
    values missing here and there."""
    nan_rows = rows[:512].copy()
    nan_rows[np.random.default_rng(2).random(nan_rows.shape) < 0.3] = np.nan
    try:
        expected = reference(nan_rows)
    except ValueError:
        return False
    return _agrees(fast(nan_rows), expected)


def _parts(estimator: Any) -> tuple[list[Transform], list[Transform], Any] | None:
    """(transforms, their inverses, the tree model) for a tree model alone
    or after scalers; None for any other pipeline."""
    from sklearn.pipeline import Pipeline

    steps = [s for _, s in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    *before, final = steps
    transforms: list[Transform] = []
    inverses: list[Transform] = []
    for step in before:
        pair = _scaler(step)
        if pair is None:
            return None
        transforms.append(pair[0])
        inverses.insert(0, pair[1])
    return transforms, inverses, final


def _scaler(step: Any) -> tuple[Transform, Transform] | None:
    """A scaler's transform, the same float operations in the same order
    as its own `transform`, and an inverse (for probe rows only)."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if type(step) is StandardScaler:
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None

        def standard(Z: np.ndarray) -> np.ndarray:
            if mean is not None:
                Z -= mean
            if scale is not None:
                Z /= scale
            return Z

        def unstandard(Z: np.ndarray) -> np.ndarray:
            return Z * (1.0 if scale is None else scale) + (0.0 if mean is None else mean)

        return standard, unstandard
    if type(step) is MinMaxScaler and not step.clip:
        factor, offset = step.scale_, step.min_

        def minmax(Z: np.ndarray) -> np.ndarray:
            Z *= factor
            Z += offset
            return Z

        def unminmax(Z: np.ndarray) -> np.ndarray:
            return (Z - offset) / factor

        return minmax, unminmax
    return None


def _flatten(model: Any) -> FlatForest | None:
    """The flat arrays of a single-output tree model of a supported type
    (exactly: a subclass may predict differently); None otherwise."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import (
        DecisionTreeClassifier,
        DecisionTreeRegressor,
        ExtraTreeClassifier,
        ExtraTreeRegressor,
    )

    single = (
        DecisionTreeClassifier,
        DecisionTreeRegressor,
        ExtraTreeClassifier,
        ExtraTreeRegressor,
    )
    forests = (
        RandomForestClassifier,
        RandomForestRegressor,
        ExtraTreesClassifier,
        ExtraTreesRegressor,
    )
    if type(model) in single:
        trees, divisor = [model], None
    elif type(model) in forests:
        trees, divisor = list(model.estimators_), len(model.estimators_)
    else:
        return None
    if getattr(model, "n_outputs_", 1) != 1:
        return None
    classifier = hasattr(model, "classes_")
    features, thresholds, children, missing, values, roots = [], [], [], [], [], []
    offset = 0
    for tree in trees:
        t = tree.tree_
        nodes = np.arange(t.node_count)
        leaf = t.children_left == -1
        features.append(np.where(leaf, 0, t.feature))
        thresholds.append(t.threshold)
        left = 2 * (np.where(leaf, nodes, t.children_left) + offset)
        right = 2 * (np.where(leaf, nodes, t.children_right) + offset)
        children.append(np.column_stack([right, left]).ravel())
        missing.append(np.asarray(t.missing_go_to_left, dtype=bool))
        values.append(_leaf_values(t.value, classifier))
        roots.append(2 * offset)
        offset += t.node_count

    def twice(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.ascontiguousarray(np.repeat(np.concatenate(parts), 2, axis=0), dtype=dtype)

    return FlatForest(
        feature=twice(features, np.intp),
        threshold=twice(thresholds, np.float64),
        children=np.concatenate(children).astype(np.intp),
        missing_left=twice(missing, bool),
        values=twice(values, np.float64),
        roots=np.array(roots, dtype=np.intp),
        depth=max(tree.tree_.max_depth for tree in trees),
        n_features=int(model.n_features_in_),
        divisor=divisor,
    )


def _leaf_values(value: np.ndarray, classifier: bool) -> np.ndarray:
    """What a tree's `predict_proba` (classifier) or `predict` (regressor)
    returns for a row in each node. scikit-learn >= 1.4 stores a
    classifier's class fractions; older versions stored weighted counts and
    divided by their sum at predict time, which is done here for them."""
    if not classifier:
        return np.asarray(value[:, 0, :1], dtype=np.float64)
    proba = np.array(value[:, 0, :], dtype=np.float64)
    sums = proba.sum(axis=1)
    if not np.allclose(sums, 1.0):
        sums[sums == 0.0] = 1.0
        proba /= sums[:, None]
    return proba


def _column_order(estimator: Any, card: ModelCard) -> np.ndarray | None:
    """Positions of the fitted columns in card order, for a model fitted on
    a DataFrame whose column order differs from the card's; else None."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or list(names) == card.feature_names:
        return None
    position = {name: i for i, name in enumerate(card.feature_names)}
    return np.array([position[str(name)] for name in names], dtype=np.intp)


def _threshold_rows(
    forest: FlatForest,
    probe: np.ndarray,
    transforms: list[Transform],
    inverses: list[Transform],
    order: np.ndarray | None,
) -> np.ndarray:
    """Probe rows with one value set exactly at a split threshold, or at
    the float32 values next to it, of a node picked at random (in card
    order and units: through the scalers' inverses, so exact only when
    there are none)."""
    # (a split of NaN from the rest has an infinite threshold: no row sits on it)
    positions = np.arange(0, len(forest.feature), 2)
    internal = positions[
        (forest.children[positions + 1] != positions)
        & (np.abs(forest.threshold[positions]) < np.finfo(np.float32).max)
    ]
    if internal.size == 0:
        return probe[:0]
    rng = np.random.default_rng(1)
    nodes = rng.choice(internal, size=min(3 * len(probe), 1024))
    base = probe[rng.integers(len(probe), size=len(nodes))].copy()
    Z = base if order is None else base[:, order]
    for transform in transforms:
        Z = transform(Z)
    thresholds = forest.threshold[nodes]
    below = np.nextafter(thresholds.astype(np.float32), np.float32(-np.inf)).astype(np.float64)
    above = np.nextafter(thresholds.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    Z[np.arange(len(nodes)), forest.feature[nodes]] = np.choose(
        np.arange(len(nodes)) % 3, [thresholds, below, above]
    )
    for inverse in inverses:
        Z = inverse(Z)
    if order is None:
        return Z
    rows = np.empty_like(Z)
    rows[:, order] = Z
    return rows
