/// Level-1 kernels on contiguous `Float` buffers: dot product, axpy, scale, L2 norm.
///
/// Each kernel walks its buffers in `SIMD16` steps with independent accumulators, then finishes the
/// tail element by element. They are `@inlinable` because the hot loops of training call them once per
/// sample on short rows (64 features), where a cross-module call would cost as much as the work.
public enum VectorOps {
    /// The number of `Float` lanes each step of the SIMD loops handles.
    @usableFromInline static let lanes = 16

    /// Returns `Σ a[i] * b[i]` over `count` elements.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        var acc0 = SIMD16<Float>()
        var acc1 = SIMD16<Float>()
        var i = 0
        while i + 2 * lanes <= count {
            let offset0 = i * MemoryLayout<Float>.stride
            let offset1 = offset0 + lanes * MemoryLayout<Float>.stride
            acc0 += rawA.loadUnaligned(fromByteOffset: offset0, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: offset0, as: SIMD16<Float>.self)
            acc1 += rawA.loadUnaligned(fromByteOffset: offset1, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: offset1, as: SIMD16<Float>.self)
            i += 2 * lanes
        }
        if i + lanes <= count {
            let offset = i * MemoryLayout<Float>.stride
            acc0 += rawA.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            i += lanes
        }
        var sum = horizontalSum(acc0 + acc1)
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// The sum of a vector's lanes by halving (a tree, in SIMD registers). `SIMD16.sum()` adds the lanes one
    /// after another in scalar code, which cost more than the multiply-adds of a 64-element dot product.
    @inlinable
    static func horizontalSum(_ v: SIMD16<Float>) -> Float {
        let eight = v.lowHalf + v.highHalf
        let four = eight.lowHalf + eight.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// Computes `y[i] += alpha * x[i]` over `count` elements (BLAS `saxpy`).
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        axpy(alpha, bytes: UnsafeRawPointer(x), y, count: count)
    }

    /// `axpy` with `x` read from raw bytes at any alignment (a tensor's piece inside a received chunk).
    @inlinable
    public static func axpy(_ alpha: Float, bytes rawX: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let rawY = UnsafeMutableRawPointer(y)
        let a = SIMD16<Float>(repeating: alpha)
        var i = 0
        while i + lanes <= count {
            let offset = i * MemoryLayout<Float>.stride
            let xv = rawX.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            let yv = rawY.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            rawY.storeBytes(of: yv + a * xv, toByteOffset: offset, as: SIMD16<Float>.self)
            i += lanes
        }
        while i < count {
            y[i] += alpha * rawX.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: Float.self)
            i += 1
        }
    }

    /// Computes `x[i] *= alpha` over `count` elements.
    @inlinable
    public static func scale(_ alpha: Float, _ x: UnsafeMutablePointer<Float>, count: Int) {
        let rawX = UnsafeMutableRawPointer(x)
        let a = SIMD16<Float>(repeating: alpha)
        var i = 0
        while i + lanes <= count {
            let offset = i * MemoryLayout<Float>.stride
            let xv = rawX.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            rawX.storeBytes(of: xv * a, toByteOffset: offset, as: SIMD16<Float>.self)
            i += lanes
        }
        while i < count {
            x[i] *= alpha
            i += 1
        }
    }

    /// Computes `x[i] = 0 + alpha * x[i]` over `count` elements: what `axpy` into zeros leaves, bit for bit (the
    /// added zero turns a product of -0 into +0), without a buffer of zeros.
    @inlinable
    public static func scaleOntoZero(_ alpha: Float, _ x: UnsafeMutablePointer<Float>, count: Int) {
        scaleOntoZero(alpha, bytes: UnsafeRawPointer(x), into: x, count: count)
    }

    /// Computes `y[i] = 0 + alpha * x[i]` over `count` elements, `x` read from raw bytes at any alignment: `axpy`
    /// into zeros, bit for bit, without the zeros. `x` may be `y`.
    @inlinable
    public static func scaleOntoZero(_ alpha: Float, bytes rawX: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        let rawY = UnsafeMutableRawPointer(y)
        let a = SIMD16<Float>(repeating: alpha)
        let zero = SIMD16<Float>()
        var i = 0
        while i + lanes <= count {
            let offset = i * MemoryLayout<Float>.stride
            let xv = rawX.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            rawY.storeBytes(of: zero + a * xv, toByteOffset: offset, as: SIMD16<Float>.self)
            i += lanes
        }
        while i < count {
            y[i] = 0 + alpha * rawX.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: Float.self)
            i += 1
        }
    }

    /// Returns the Euclidean norm `sqrt(Σ x[i]²)`, accumulated in `Double` so that a long update
    /// (millions of elements) keeps its precision.
    @inlinable
    public static func l2Norm(_ x: UnsafePointer<Float>, count: Int) -> Double {
        // Sum blocks of 4,096 squares in Float SIMD (fast, exact enough for one block), then add the
        // block sums in Double.
        let block = 4096
        var total = 0.0
        var start = 0
        while start < count {
            let length = min(block, count - start)
            total += Double(dot(x + start, x + start, count: length))
            start += length
        }
        return total.squareRoot()
    }
}

extension VectorOps {
    /// `dot` over two buffers of equal length.
    @inlinable
    public static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        precondition(a.count == b.count, "dot: buffers of \(a.count) and \(b.count) elements")
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        return dot(pa, pb, count: a.count)
    }

    /// `axpy` over two buffers of equal length.
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count == y.count, "axpy: buffers of \(x.count) and \(y.count) elements")
        guard let px = x.baseAddress, let py = y.baseAddress else { return }
        axpy(alpha, px, py, count: x.count)
    }

    /// `scale` over a buffer.
    @inlinable
    public static func scale(_ alpha: Float, _ x: UnsafeMutableBufferPointer<Float>) {
        guard let px = x.baseAddress else { return }
        scale(alpha, px, count: x.count)
    }

    /// `l2Norm` over a buffer.
    @inlinable
    public static func l2Norm(_ x: UnsafeBufferPointer<Float>) -> Double {
        guard let px = x.baseAddress else { return 0 }
        return l2Norm(px, count: x.count)
    }
}
