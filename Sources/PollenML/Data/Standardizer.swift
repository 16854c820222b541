/// Per-feature standardisation, `(x - mean) / std`, with statistics fitted on training data only.
///
/// The statistics can also come from a federation (sums and sums of squares aggregated across nodes), which
/// gives every node the same scaling without moving a row.
public struct Standardizer: Sendable, Equatable {
    /// The mean of each feature.
    public let means: [Double]
    /// The standard deviation of each feature; a constant feature gets 1, so it maps to 0.
    public let standardDeviations: [Double]

    /// A standardiser with the given statistics.
    public init(means: [Double], standardDeviations: [Double]) {
        precondition(means.count == standardDeviations.count, "standardizer: \(means.count) means, \(standardDeviations.count) deviations")
        self.means = means
        self.standardDeviations = standardDeviations.map { $0 > 1e-12 && $0.isFinite ? $0 : 1 }
    }

    /// Fits the statistics of `dataset` (population standard deviation, as scikit-learn's `StandardScaler`).
    public init(fitting dataset: Dataset) {
        let sums = FeatureSums(dataset)
        self.init(sums: sums)
    }

    /// Statistics from accumulated sums.
    public init(sums: FeatureSums) {
        let n = Double(max(sums.count, 1))
        let means = sums.sum.map { $0 / n }
        let deviations = zip(sums.sumOfSquares, means).map { sumSq, mean in max(sumSq / n - mean * mean, 0).squareRoot() }
        self.init(means: means, standardDeviations: deviations)
    }

    /// `dataset` with every feature standardised.
    public func transform(_ dataset: Dataset) -> Dataset {
        precondition(dataset.featureCount == means.count, "standardizer fitted on \(means.count) features, data has \(dataset.featureCount)")
        var copy = dataset
        let d = dataset.featureCount
        let shift = means.map(Float.init)
        let scale = standardDeviations.map { Float(1 / $0) }
        copy.features.withUnsafeMutableBufferPointer { values in
            for row in 0..<dataset.rowCount {
                for j in 0..<d {
                    values[row * d + j] = (values[row * d + j] - shift[j]) * scale[j]
                }
            }
        }
        return copy
    }
}

/// Per-feature sums and sums of squares over a number of rows: what a node sends so that a federation can
/// compute global feature statistics without seeing a row.
public struct FeatureSums: Sendable, Equatable {
    /// The number of rows summed.
    public var count: Int
    /// The sum of each feature.
    public var sum: [Double]
    /// The sum of each feature's squares.
    public var sumOfSquares: [Double]

    public init(count: Int, sum: [Double], sumOfSquares: [Double]) {
        self.count = count
        self.sum = sum
        self.sumOfSquares = sumOfSquares
    }

    /// The sums over every row of `dataset`.
    public init(_ dataset: Dataset) {
        let d = dataset.featureCount
        var sum = Array(repeating: 0.0, count: d)
        var sumOfSquares = Array(repeating: 0.0, count: d)
        for row in 0..<dataset.rowCount {
            for j in 0..<d {
                let x = Double(dataset.features[row * d + j])
                sum[j] += x
                sumOfSquares[j] += x * x
            }
        }
        self.init(count: dataset.rowCount, sum: sum, sumOfSquares: sumOfSquares)
    }

    /// Adds `other`'s rows to these sums.
    public mutating func add(_ other: FeatureSums) {
        precondition(other.sum.count == sum.count, "feature sums over \(other.sum.count) and \(sum.count) features")
        count += other.count
        for j in sum.indices {
            sum[j] += other.sum[j]
            sumOfSquares[j] += other.sumOfSquares[j]
        }
    }
}
