# The scikit-learn side of bench/training-vs-sklearn.ts: trains on the arrays the TypeScript side
# wrote (float32 row-major features, uint8 labels), times fit() only, and writes the validation
# probabilities back as float64 so both models are scored by the same code (Sluice's rocAuc).
# Run by that benchmark with Debian's /usr/bin/python3 (python3-sklearn); not on its own.
import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

spec = json.load(open(sys.argv[1]))
cols = spec["cols"]


def matrix(name):
    return np.fromfile(spec["files"][name], dtype=np.float32).reshape(-1, cols)


def labels(name):
    return np.fromfile(spec["files"][name], dtype=np.uint8)


out = {}

if "gbt" in spec:
    from sklearn.ensemble import HistGradientBoostingClassifier

    g = spec["gbt"]
    X, y, Xv = matrix("gbt_train"), labels("train_y"), matrix("gbt_valid")
    clf = HistGradientBoostingClassifier(
        loss="log_loss",
        learning_rate=g["learningRate"],
        max_iter=g["maxIter"],
        max_depth=g["maxDepth"],
        max_leaf_nodes=g["maxLeafNodes"],
        min_samples_leaf=g["minSamplesLeaf"],
        l2_regularization=g["l2"],
        max_bins=g["maxBins"],
        early_stopping=False,
        random_state=0,
    )
    t0 = time.perf_counter()
    clf.fit(X, y)
    out["gbt"] = {"fitSeconds": time.perf_counter() - t0, "iterations": int(clf.n_iter_)}
    clf.predict_proba(Xv)[:, 1].astype(np.float64).tofile(spec["files"]["gbt_pred"])

if "logistic" in spec:
    from sklearn.linear_model import LogisticRegression

    lr = spec["logistic"]
    X, y, Xv = matrix("lr_train"), labels("train_y"), matrix("lr_valid")
    # Sluice minimizes sum(log-loss) + (l2/2)|w|^2; sklearn C * sum(log-loss) + (1/2)|w|^2: C = 1/l2.
    clf = LogisticRegression(penalty="l2", C=1.0 / lr["l2"], solver="lbfgs", max_iter=lr["maxIter"], tol=lr["tol"])
    t0 = time.perf_counter()
    clf.fit(X, y)
    out["logistic"] = {"fitSeconds": time.perf_counter() - t0, "iterations": int(clf.n_iter_[0])}
    clf.predict_proba(Xv)[:, 1].astype(np.float64).tofile(spec["files"]["lr_pred"])

# Asked after sklearn is imported, so its OpenMP runtime is loaded and counted.
out["threads"] = {i["internal_api"]: i["num_threads"] for i in threadpool_info()}
print(json.dumps(out))
