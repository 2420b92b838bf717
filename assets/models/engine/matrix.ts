import { invalid } from './errors.ts';

/** A row-major dense matrix: value (i, j) at values[i * cols + j]; NaN marks a missing value. */
export interface DenseMatrix {
  values: Float64Array | Float32Array;
  rows: number;
  cols: number;
}

/** Either a dense row-major matrix or an array of equal-length rows. */
export type FeatureMatrix = DenseMatrix | ReadonlyArray<ArrayLike<number>>;

function isDense(x: FeatureMatrix): x is DenseMatrix {
  return !Array.isArray(x);
}

/**
 * The matrix as a dense one (rows are copied, a dense matrix is not). `expectedCols` checks the
 * width, and gives it to an empty array of rows.
 */
export function toDense(x: FeatureMatrix, expectedCols?: number): DenseMatrix {
  let dense: DenseMatrix;
  if (isDense(x)) {
    if (!Number.isInteger(x.rows) || !Number.isInteger(x.cols) || x.rows < 0 || x.cols < 0 || x.values.length !== x.rows * x.cols) {
      invalid(`dense matrix: values.length ${x.values.length} is not rows ${x.rows} × cols ${x.cols}`);
    }
    dense = x;
  } else {
    const rows = x.length;
    const cols = rows > 0 ? x[0].length : (expectedCols ?? 0);
    const values = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const row = x[i];
      if (row.length !== cols) invalid(`row ${i} has ${row.length} values, row 0 has ${cols}`);
      for (let j = 0; j < cols; j++) values[i * cols + j] = row[j];
    }
    dense = { values, rows, cols };
  }
  if (expectedCols !== undefined && dense.cols !== expectedCols) {
    invalid(`expected ${expectedCols} feature columns, got ${dense.cols}`);
  }
  return dense;
}

/** The values rounded to float32, the precision both the trees and the ONNX runtime compare in. */
export function toFloat32(x: DenseMatrix): Float32Array {
  return x.values instanceof Float32Array ? x.values : Float32Array.from(x.values);
}
