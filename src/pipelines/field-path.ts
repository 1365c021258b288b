// Field paths moved to the kernel (every capability that reports problems uses them); pipelines keeps this name for its own modules.
export { formatFieldPath, joinFieldPath, segmentsOfPointer, type PathSegment } from "../kernel/field-path";
