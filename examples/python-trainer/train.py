"""An external trainer for Sluice's process runner: scikit-learn's LogisticRegression on a CSV input,
exported to ONNX with the `onnx` package's helper API (skl2onnx is not needed).

Contract (runners/PROTOCOL.md, section 2):
  - parameters in $SLUICE_PARAMS_FILE, inputs in $SLUICE_INPUTS_FILE (input `data`: a CSV file with a
    header row);
  - output `model`: the ONNX file itself, written at $SLUICE_OUTPUT_MODEL;
  - output `predictions`: JSON with a few validation rows and this script's own probabilities for them,
    so anyone can check that the ONNX graph reproduces scikit-learn;
  - metrics: `::metric key=value` lines on stdout, which the run records and the registry takes as the
    version's metrics; `::output model {...}` attaches metadata to the model output.

Exit code 2 marks a mistake in the parameters or data (the run engine does not retry it).
Runs with Debian's /usr/bin/python3 (python3-sklearn, python3-onnx); numpy reads the CSV.
"""

import json
import os
import sys

import numpy as np


def fail(message):
    print(f"train.py: {message}", file=sys.stderr)
    sys.exit(2)


params = json.load(open(os.environ["SLUICE_PARAMS_FILE"]))
inputs = json.load(open(os.environ["SLUICE_INPUTS_FILE"]))
features = params.get("features") or fail("params.features must list the feature columns")
target = params.get("target") or fail("params.target must name the 0/1 label column")
C = float(params.get("C", 1.0))
max_iter = int(params.get("maxIter", 100))
validation_fraction = float(params.get("validationFraction", 0.2))
seed = int(params.get("seed", 42))
sample_rows = int(params.get("predictionSample", 20))

# 1. The CSV: header first, then numbers (empty fields read as NaN).
path = inputs["data"]["path"]
with open(path) as f:
    header = f.readline().strip().split(",")
missing = [c for c in features + [target] if c not in header]
if missing:
    fail(f"the input has no column(s) {missing} (columns: {header})")
table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64, ndmin=2)
# ONNX graphs take float32: train on the values the graph will see.
X = table[:, [header.index(c) for c in features]].astype(np.float32)
y = table[:, header.index(target)]
keep = ~np.isnan(y)
X, y = X[keep], y[keep].astype(np.int64)
if np.isnan(X).any():
    fail("a feature has missing values; impute them before this stage")
if set(np.unique(y)) != {0, 1}:
    fail(f"the target must hold both classes 0 and 1, got {sorted(set(np.unique(y)))}")

# 2. A seeded split, then scaling fitted on the training rows only.
order = np.random.RandomState(seed).permutation(len(y))
n_valid = int(round(len(y) * validation_fraction))
valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])
if n_valid == 0 or len(train) == 0:
    fail("the split left no validation or no training rows")

from sklearn.linear_model import LogisticRegression  # noqa: E402 (after the cheap checks)
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

scaler = StandardScaler().fit(X[train])
clf = LogisticRegression(C=C, max_iter=max_iter, solver="lbfgs").fit(scaler.transform(X[train]), y[train])
proba = clf.predict_proba(scaler.transform(X[valid]))[:, 1]
metrics = {
    "roc_auc": float(roc_auc_score(y[valid], proba)),
    "accuracy": float(accuracy_score(y[valid], proba >= 0.5)),
    "log_loss": float(log_loss(y[valid], proba)),
}

# 3. The ONNX graph: one float [N, 1] input per feature column (as Sluice's built-in trainers take
#    raw columns), Concat, Scaler, then LinearClassifier with a logistic post-transform, whose
#    outputs `label` and `probabilities` [N, 2] are named as the built-in trainers' are.
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

scale = scaler.scale_.astype(np.float64)
nodes = [
    helper.make_node("Concat", features, ["features"], axis=1),
    helper.make_node(
        "Scaler",
        ["features"],
        ["scaled"],
        domain="ai.onnx.ml",
        offset=[float(v) for v in scaler.mean_],
        scale=[float(1.0 / v) for v in scale],
    ),
    helper.make_node(
        "LinearClassifier",
        ["scaled"],
        ["label", "probabilities"],
        domain="ai.onnx.ml",
        coefficients=[float(v) for v in clf.coef_.ravel()],
        intercepts=[float(v) for v in clf.intercept_],
        classlabels_ints=[0, 1],
        post_transform="LOGISTIC",
        multi_class=0,
    ),
]
graph = helper.make_graph(
    nodes,
    "sklearn_logistic_regression",
    [helper.make_tensor_value_info(c, TensorProto.FLOAT, [None, 1]) for c in features],
    [
        helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2]),
    ],
)
model = helper.make_model(
    graph,
    producer_name="sluice-example-python-trainer",
    opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)],
)
model.ir_version = 8
model.doc_string = f"scikit-learn LogisticRegression (C={C}); features: {', '.join(features)}"
onnx.checker.check_model(model)
with open(os.environ["SLUICE_OUTPUT_MODEL"], "wb") as f:
    f.write(model.SerializeToString())

# 4. A few validation rows with scikit-learn's own probabilities, for checking the graph.
sample = valid[:sample_rows]
with open(os.environ["SLUICE_OUTPUT_PREDICTIONS"], "w") as f:
    json.dump(
        {
            "features": features,
            "rows": X[sample].astype(np.float64).tolist(),
            "probabilities": clf.predict_proba(scaler.transform(X[sample]))[:, 1].tolist(),
        },
        f,
    )

import sklearn  # noqa: E402

for key, value in metrics.items():
    print(f"::metric {key}={value!r}")
meta = {
    "format": "onnx",
    "framework": "scikit-learn",
    "frameworkVersion": sklearn.__version__,
    "algorithm": "logistic_regression",
    "features": features,
    "target": target,
    "trainRows": int(len(train)),
    "validationRows": int(n_valid),
    "iterations": int(clf.n_iter_[0]),
}
print(f"::output model {json.dumps(meta)}")
print(f"trained on {len(train)} rows, validation roc_auc {metrics['roc_auc']:.4f}")
