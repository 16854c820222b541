/// Dense matrix products on row-major, contiguous `Float` buffers.
///
/// Each product comes in the three shapes a dense layer needs (forward `X·Wᵀ`, weight gradient `Gᵀ·X`,
/// input gradient `G·W`), built from the SIMD `dot` and `axpy` kernels so that the innermost loop always walks
/// contiguous memory. With `accumulate: true` the product is added to `c` instead of overwriting it.
/// Products large enough to pay for it are split by rows of `c` across cores.
public enum Matrix {
    /// The multiply-add count above which a product is split across cores.
    static let parallelThreshold = 1 << 21

    /// `c[m×n] (+)= a[m×k] · b[k×n]`.
    public static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, accumulate: Bool = false
    ) {
        forRows(m: m, work: m * n * k) { rows in
            for i in rows {
                let row = c + i * n
                if !accumulate { row.update(repeating: 0, count: n) }
                for p in 0..<k {
                    VectorOps.axpy(a[i * k + p], b + p * n, row, count: n)
                }
            }
        }
    }

    /// `c[m×n] (+)= a[m×k] · bᵀ`, where `b` is stored as `[n×k]` (a dense layer's forward pass, `X·Wᵀ`).
    public static func multiplyTransposedB(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, accumulate: Bool = false
    ) {
        forRows(m: m, work: m * n * k) { rows in
            for i in rows {
                let rowA = a + i * k
                for j in 0..<n {
                    let value = VectorOps.dot(rowA, b + j * k, count: k)
                    c[i * n + j] = accumulate ? c[i * n + j] + value : value
                }
            }
        }
    }

    /// `c[m×n] (+)= aᵀ · b`, where `a` is stored as `[k×m]` and `b` as `[k×n]` (a weight gradient, `Gᵀ·X`).
    public static func multiplyTransposedA(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, accumulate: Bool = false
    ) {
        forRows(m: m, work: m * n * k) { rows in
            if !accumulate { (c + rows.lowerBound * n).update(repeating: 0, count: rows.count * n) }
            for p in 0..<k {
                let rowB = b + p * n
                for i in rows {
                    VectorOps.axpy(a[p * m + i], rowB, c + i * n, count: n)
                }
            }
        }
    }

    private static func forRows(m: Int, work: Int, _ body: (Range<Int>) -> Void) {
        if work < parallelThreshold {
            body(0..<m)
        } else {
            ParallelFor.run(count: m, minChunk: 1, body)
        }
    }
}
