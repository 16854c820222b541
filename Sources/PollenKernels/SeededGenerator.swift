/// A fast, seedable pseudo-random generator (xoshiro256**), so that every random choice in Pollen (partitions,
/// shuffles, sampling, initial weights, failure injection) is reproducible from one seed.
///
/// Independent streams come from hashing the seed with stream numbers (`SeededGenerator(seed: 42, stream: [node,
/// round])`), so node 7's shuffle in round 3 is the same however many cores ran the round.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// A generator for `seed`, on the stream named by `stream` (empty: the seed's main stream).
    public init(seed: UInt64, stream: [UInt64] = []) {
        var state = seed
        for value in stream {
            state = SeededGenerator.splitMix(&state) ^ value &* 0x9E37_79B9_7F4A_7C15
        }
        s0 = SeededGenerator.splitMix(&state)
        s1 = SeededGenerator.splitMix(&state)
        s2 = SeededGenerator.splitMix(&state)
        s3 = SeededGenerator.splitMix(&state)
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, by: 45)
        return result
    }

    /// A uniform integer in `0..<bound` (Lemire's nearly divisionless method, unbiased).
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold {
                product = next().multipliedFullWidth(by: range)
            }
        }
        return Int(product.high)
    }

    /// A uniform `Double` in `[0, 1)` with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform `Float` in `[0, 1)` with 24 random bits.
    @inlinable
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }

    /// Two independent uniform `Float`s in `[0, 1)` with 24 random bits each, from one 64-bit draw: half the cost
    /// of two `nextUnitFloat()` calls where many floats are needed.
    @inlinable
    public mutating func nextUnitFloatPair() -> (Float, Float) {
        let bits = next()
        return (Float(bits >> 40) * 0x1.0p-24, Float((bits >> 8) & 0xFF_FFFF) * 0x1.0p-24)
    }

    /// A standard normal sample (Marsaglia's polar method).
    public mutating func nextGaussian() -> Double {
        while true {
            let u = 2 * nextUnitDouble() - 1
            let v = 2 * nextUnitDouble() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                return u * (-2 * log(s) / s).squareRoot()
            }
        }
    }

    /// A Gamma(`shape`, 1) sample (Marsaglia and Tsang; for `shape < 1`, boosted by `U^(1/shape)`).
    public mutating func nextGamma(shape: Double) -> Double {
        exp(nextLogGamma(shape: shape))
    }

    /// The logarithm of a Gamma(`shape`, 1) sample. For small shapes a sample is often below the smallest
    /// `Double` (`U^(1/shape)` with shape 1e-4), so Dirichlet draws work with logarithms, which stay finite.
    public mutating func nextLogGamma(shape: Double) -> Double {
        precondition(shape > 0, "gamma shape must be positive, got \(shape)")
        if shape < 1 {
            let u = max(nextUnitDouble(), .leastNonzeroMagnitude)
            return nextLogGamma(shape: shape + 1) + log(u) / shape
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = nextGaussian()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = nextUnitDouble()
            if u < 1 - 0.0331 * x * x * x * x { return log(d * v) }
            if log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return log(d * v) }
        }
    }

    /// A sample from the symmetric Dirichlet distribution with `count` components and concentration `alpha`,
    /// normalised from log-Gamma draws so that tiny alphas concentrate the mass instead of underflowing.
    public mutating func nextDirichlet(alpha: Double, count: Int) -> [Double] {
        let logs = (0..<count).map { _ in nextLogGamma(shape: alpha) }
        let largest = logs.max() ?? 0
        var draws = logs.map { exp($0 - largest) }
        let total = draws.reduce(0, +)
        for i in draws.indices { draws[i] /= total }
        return draws
    }

    /// Shuffles `values` in place (Fisher–Yates), independently of the standard library's algorithm, so that
    /// results stay the same across Swift versions. Inlinable, so that callers get a loop specialised to their
    /// element type.
    @inlinable
    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { values.swapAt(i, j) }
        }
    }

    @inlinable
    func rotateLeft(_ x: UInt64, by k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    private static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
