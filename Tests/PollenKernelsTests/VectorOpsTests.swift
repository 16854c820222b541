import PollenKernels
import Testing

/// Each kernel against a straightforward loop, over lengths that exercise the SIMD body, the tail and both.
@Suite struct VectorOpsTests {
    static let lengths = [0, 1, 7, 15, 16, 17, 31, 32, 33, 64, 100, 1_000, 10_007]

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in 2 * generator.nextUnitFloat() - 1 }
    }

    @Test(arguments: lengths)
    func dotMatchesLoop(count: Int) {
        let a = Self.values(count, seed: 1)
        let b = Self.values(count, seed: 2)
        var expected = 0.0
        for i in 0..<count { expected += Double(a[i]) * Double(b[i]) }
        let actual = a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in VectorOps.dot(a, b) } }
        #expect(abs(Double(actual) - expected) <= 1e-5 * max(1, Double(count).squareRoot()))
    }

    @Test(arguments: lengths)
    func axpyMatchesLoop(count: Int) {
        let x = Self.values(count, seed: 3)
        var y = Self.values(count, seed: 4)
        let expected = zip(x, y).map { 0.75 * $0 + $1 }
        x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { y in VectorOps.axpy(0.75, x, y) } }
        #expect(y == expected)
    }

    @Test(arguments: lengths)
    func scaleMatchesLoop(count: Int) {
        var x = Self.values(count, seed: 5)
        let expected = x.map { $0 * -2.5 }
        x.withUnsafeMutableBufferPointer { VectorOps.scale(-2.5, $0) }
        #expect(x == expected)
    }

    @Test(arguments: lengths)
    func l2NormMatchesLoop(count: Int) {
        let x = Self.values(count, seed: 6)
        let expected = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let actual = x.withUnsafeBufferPointer { VectorOps.l2Norm($0) }
        #expect(abs(actual - expected) <= 1e-5 * max(1, expected))
    }
}

@Suite struct WeightedSumTests {
    /// Sizes below and above the parallel threshold (64 blocks of 4,096 elements), with a ragged last block.
    @Test(arguments: [(1, 10), (3, 4_097), (7, 1_000), (2, 300_001), (40, 9_000)])
    func matchesReferenceLoop(inputCount: Int, length: Int) {
        let inputs = (0..<inputCount).map { VectorOpsTests.values(length, seed: UInt64(10 + $0)) }
        let weights = (0..<inputCount).map { Float($0 + 1) / Float(inputCount) }
        var expected = [Float](repeating: 0, count: length)
        for i in 0..<length {
            var sum = weights[0] * inputs[0][i]
            for k in 1..<inputCount { sum += weights[k] * inputs[k][i] }
            expected[i] = sum
        }
        var output = [Float](repeating: .nan, count: length)
        withBuffers(inputs) { buffers in
            output.withUnsafeMutableBufferPointer { WeightedSum.compute(buffers, weights: weights, into: $0) }
        }
        // The kernel adds in the same order as the loop, so results agree exactly.
        #expect(output == expected)
    }

    @Test func noInputsGiveZeros() {
        var output: [Float] = [1, 2, 3]
        output.withUnsafeMutableBufferPointer { WeightedSum.compute([], weights: [], into: $0) }
        #expect(output == [0, 0, 0])
    }

    private func withBuffers(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) -> Void) {
        func recurse(_ index: Int, _ collected: [UnsafeBufferPointer<Float>]) {
            guard index < arrays.count else { return body(collected) }
            arrays[index].withUnsafeBufferPointer { recurse(index + 1, collected + [$0]) }
        }
        recurse(0, [])
    }
}

@Suite struct MatrixTests {
    /// Shapes of the models Pollen trains (batch × features × classes), and one large enough to run in parallel.
    static let shapes = [(1, 1, 1), (32, 10, 64), (32, 1, 30), (17, 33, 5), (128, 64, 300)]

    static func reference(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, aIndex: (Int, Int) -> Int, bIndex: (Int, Int) -> Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[aIndex(i, p)]) * Double(b[bIndex(p, j)]) }
                c[i * n + j] = Float(sum)
            }
        }
        return c
    }

    static func close(_ x: [Float], _ y: [Float], k: Int) -> Bool {
        zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 * Float(k) }
    }

    @Test(arguments: shapes)
    func multiply(m: Int, n: Int, k: Int) {
        let a = VectorOpsTests.values(m * k, seed: 20)
        let b = VectorOpsTests.values(k * n, seed: 21)
        var c = [Float](repeating: 9, count: m * n)
        Matrix.multiply(a, b, into: &c, m: m, n: n, k: k)
        #expect(Self.close(c, Self.reference(a, b, m: m, n: n, k: k, aIndex: { $0 * k + $1 }, bIndex: { $0 * n + $1 }), k: k))
    }

    @Test(arguments: shapes)
    func multiplyTransposedB(m: Int, n: Int, k: Int) {
        let a = VectorOpsTests.values(m * k, seed: 22)
        let b = VectorOpsTests.values(n * k, seed: 23)
        var c = [Float](repeating: 9, count: m * n)
        Matrix.multiplyTransposedB(a, b, into: &c, m: m, n: n, k: k)
        #expect(Self.close(c, Self.reference(a, b, m: m, n: n, k: k, aIndex: { $0 * k + $1 }, bIndex: { $1 * k + $0 }), k: k))
    }

    @Test(arguments: shapes)
    func multiplyTransposedAAccumulates(m: Int, n: Int, k: Int) {
        let a = VectorOpsTests.values(k * m, seed: 24)
        let b = VectorOpsTests.values(k * n, seed: 25)
        var c = [Float](repeating: 1, count: m * n)
        Matrix.multiplyTransposedA(a, b, into: &c, m: m, n: n, k: k, accumulate: true)
        let expected = Self.reference(a, b, m: m, n: n, k: k, aIndex: { $1 * m + $0 }, bIndex: { $0 * n + $1 }).map { $0 + 1 }
        #expect(Self.close(c, expected, k: k))
    }
}

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameStream() {
        var a = SeededGenerator(seed: 7, stream: [1, 2])
        var b = SeededGenerator(seed: 7, stream: [1, 2])
        var c = SeededGenerator(seed: 7, stream: [2, 1])
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }

    @Test func boundedIntegersAreUniformEnough() {
        var generator = SeededGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[generator.nextInt(below: 10)] += 1 }
        // Each bucket expects 10,000; 5 standard deviations is about 475.
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
    }

    @Test(arguments: [0.3, 1.0, 4.5])
    func gammaHasItsMean(shape: Double) {
        var generator = SeededGenerator(seed: 3)
        let n = 50_000
        let mean = (0..<n).reduce(0.0) { sum, _ in sum + generator.nextGamma(shape: shape) } / Double(n)
        // The mean of Gamma(k, 1) is k, with standard error sqrt(k / n).
        #expect(abs(mean - shape) < 5 * (shape / Double(n)).squareRoot())
    }

    @Test func dirichletSumsToOne() {
        var generator = SeededGenerator(seed: 4)
        let draw = generator.nextDirichlet(alpha: 0.5, count: 10)
        #expect(abs(draw.reduce(0, +) - 1) < 1e-12)
        #expect(draw.allSatisfy { $0 >= 0 })
    }

    @Test func tinyAlphaConcentratesInsteadOfUnderflowing() {
        var generator = SeededGenerator(seed: 6)
        for _ in 0..<100 {
            let draw = generator.nextDirichlet(alpha: 1e-5, count: 10)
            #expect(draw.allSatisfy { $0.isFinite })
            #expect(draw.max()! > 0.99)
        }
    }

    @Test func shuffleIsAPermutation() {
        var generator = SeededGenerator(seed: 5)
        var values = Array(0..<1_000)
        generator.shuffle(&values)
        #expect(values != Array(0..<1_000))
        #expect(values.sorted() == Array(0..<1_000))
    }
}

@Suite struct ParallelForTests {
    @Test(arguments: [0, 1, 5, 1_000])
    func coversEveryIndexOnce(count: Int) {
        let marks = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        marks.initialize(repeating: 0)
        defer { marks.deallocate() }
        ParallelFor.run(count: count, minChunk: 1) { range in
            for i in range { marks[i] += 1 }
        }
        #expect(marks.prefix(count).allSatisfy { $0 == 1 })
    }
}
