/**
 * The public surface of `scoring`: the `score` stage runs an ONNX model over every row of a
 * dataset. Other folders reuse its mapping between a model's tensors and a table's columns
 * (monitoring builds reference predictions with it).
 */
export { type InputBuffer, type OutputColumn, feedsFor, outputColumnsOf, scoreColumnsOf } from "./columns";
