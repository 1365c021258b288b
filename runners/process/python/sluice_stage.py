"""Sluice's helper for Python command stages: params, inputs and outputs as tables, logs and metrics.

The process runner puts this folder last on the stage's PYTHONPATH (and shows it read-only in
the sandbox), so a command stage run by /usr/bin/python3 can `import sluice_stage` without
installing anything. It needs only the standard library; with pyarrow it reads and writes Parquet
itself, and with pandas and pyarrow `read_table` returns a DataFrame. runners/PROTOCOL.md
("Datasets as tables") is the contract it speaks:

    import sluice_stage as sluice

    rows = sluice.read_table("flights")          # list of dicts (or a DataFrame, see read_table)
    late = [r for r in rows if r["delay"] > 15]
    sluice.write_table("late", late, dataset="late-flights")
    sluice.metric("late", len(late))
"""

import datetime
import json
import os
import sys

__all__ = ["params", "inputs", "input_path", "output_path", "read_table", "write_table", "log", "metric", "output_metadata"]

_params = None
_inputs = None


def params():
    """The stage's resolved parameters (a dict)."""
    global _params
    if _params is None:
        with open(os.environ["SLUICE_PARAMS_FILE"], encoding="utf-8") as f:
            _params = json.load(f)
    return _params


def inputs():
    """Every input as the runner describes it: name -> {artifactId, path, kind, hash, size, metadata, table?}."""
    global _inputs
    if _inputs is None:
        with open(os.environ["SLUICE_INPUTS_FILE"], encoding="utf-8") as f:
            _inputs = json.load(f)
    return _inputs


def _input(name):
    described = inputs()
    if name not in described:
        raise KeyError(f"no input named {name!r} (inputs: {', '.join(sorted(described)) or 'none'})")
    return described[name]


def input_path(name):
    """The local path of input `name` (a file, or a folder for multi-file artifacts). Read-only."""
    return _input(name)["path"]


def output_path(name):
    """Where output `name` goes: $SLUICE_OUTPUT_DIR/<name> (not created)."""
    return os.path.join(os.environ["SLUICE_OUTPUT_DIR"], name)


def log(*args):
    """A line on the stage's log (stdout), formatted like print()."""
    print(*args, flush=True)


def metric(key, value, step=None):
    """Reports a numeric metric, with an optional step (an epoch, an iteration)."""
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"metric {key}: value must be finite, got {value}")
    record = {"key": str(key), "value": value}
    if step is not None:
        record["step"] = int(step)
    print("::metric " + json.dumps(record), flush=True)


def output_metadata(name, metadata):
    """Attaches metadata (a JSON object) to output `name`; several calls merge."""
    print(f"::output {name} {json.dumps(metadata)}", flush=True)


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


_TEMPORAL = ("TIMESTAMP", "DATE")


def _parse_temporal(value, column_type):
    """DuckDB's JSON text of a DATE or TIMESTAMP as a date or datetime; other text is left as it is."""
    if not isinstance(value, str):
        return value
    try:
        if column_type == "DATE":
            return datetime.date.fromisoformat(value)
        text = value.replace(" ", "T", 1)
        # Python before 3.11 reads only 0, 3 or 6 digits of fraction and `+HH:MM` offsets.
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        elif len(text) >= 3 and text[-3] in "+-" and text[-2:].isdigit() and "T" in text and ":" not in text[-3:]:
            text += ":00"
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return value


def read_table(name, as_pandas=None):
    """The rows of Dataset input `name`.

    as_pandas=None (the default) returns a pandas DataFrame when pandas and pyarrow can be
    imported, else a list of dicts; True or False asks for one of them. A list of dicts keeps
    numbers as int or float, DATE and TIMESTAMP columns as datetime.date and datetime.datetime,
    NULL as None. Without pyarrow the rows come from the JSON-lines copy the runner wrote before
    the stage started (up to its size limit, 256 MiB of Parquet by default).
    """
    entry = _input(name)
    pyarrow = _has("pyarrow")
    if as_pandas is None:
        as_pandas = pyarrow and _has("pandas")
    if pyarrow:
        import pyarrow.parquet as pq

        table = pq.read_table(entry["path"])
        return table.to_pandas() if as_pandas else table.to_pylist()
    table = entry.get("table")
    if entry.get("kind") != "Dataset" or not table:
        raise ValueError(f"input {name!r} is not a Dataset: read its file at input_path({name!r})")
    if not table.get("jsonl"):
        raise RuntimeError(
            f"input {name!r} has no JSON-lines copy ({table.get('reason', 'the runner wrote none')}): "
            "install pyarrow to read its Parquet, or raise the runner's tableJsonlMaxBytes"
        )
    temporal = {c["name"]: c["type"] for c in table.get("columns", []) if c["type"].startswith(_TEMPORAL)}
    rows = []
    with open(table["jsonl"], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            for column, column_type in temporal.items():
                if column in row:
                    row[column] = _parse_temporal(row[column], "DATE" if column_type == "DATE" else "TIMESTAMP")
            rows.append(row)
    if as_pandas:
        import pandas

        return pandas.DataFrame.from_records(rows, columns=[c["name"] for c in table.get("columns", [])] or None)
    return rows


def _missing(value):
    """A NULL in a row: a float NaN, or pandas' NaT (a missing timestamp) and NA (a missing nullable int)."""
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NaTType", "NAType")  # by name: pandas may not be installed


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a table value")


def write_table(name, rows, dataset=None, schema_policy=None):
    """Writes Dataset output `name` from a list of dicts (or a pandas DataFrame).

    With pyarrow the Parquet file is written here; without it the rows go to
    $SLUICE_OUTPUT_DIR/<name>.jsonl, which the runner turns into Parquet when the stage exits 0
    (column types come from the values: keep numbers numbers). A DataFrame's missing values
    (NaN, NaT, NA) are written as NULL, and timestamps as microseconds either way, so a column's
    type does not depend on whether pyarrow is installed. With `dataset`, the server
    registers the output as the next version of that dataset of the project (created with
    `schema_policy`, FAIL_ON_BREAKING by default), reading its schema and profile from the file.
    Returns the number of rows written.
    """
    target = output_path(name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    is_frame = hasattr(rows, "to_dict") and hasattr(rows, "columns")
    count = len(rows)
    if count == 0:
        raise ValueError(f"write_table({name!r}): a Dataset output needs at least one row (its columns come from the rows)")
    if _has("pyarrow"):
        import pyarrow
        import pyarrow.parquet as pq

        table = pyarrow.Table.from_pandas(rows, preserve_index=False) if is_frame else pyarrow.Table.from_pylist(list(rows))
        # pandas' timestamps are nanoseconds; microseconds, as the JSON-lines path and DuckDB's
        # TIMESTAMP have, keep the column's type the same whether pyarrow is installed or not.
        pq.write_table(table, target, coerce_timestamps="us", allow_truncated_timestamps=True)
    else:
        records = rows.to_dict(orient="records") if is_frame else rows
        with open(target + ".jsonl", "w", encoding="utf-8") as f:
            for row in records:
                if not isinstance(row, dict):
                    raise TypeError(f"write_table({name!r}): every row must be a dict, got {type(row).__name__}")
                # NaN, NaT and NA are how pandas says "missing"; JSON has none of them: they become NULL.
                row = {k: (None if _missing(v) else v) for k, v in row.items()}
                f.write(json.dumps(row, default=_json_default, allow_nan=False))
                f.write("\n")
    if dataset is not None:
        register = {"type": "stageDataset", "dataset": dataset}
        if schema_policy is not None:
            register["schemaPolicy"] = schema_policy
        output_metadata(name, {"register": register})
    return count


if __name__ == "__main__":
    sys.exit("sluice_stage is a module: import it from a stage's script")
