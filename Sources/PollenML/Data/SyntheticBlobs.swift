public import PollenKernels

/// Synthetic classification data, generated from a seed on demand: each class has a centre drawn uniformly from
/// `[-1, 1]^features`, and each row is its class's centre plus uniform noise in `[-1, 1]` per feature.
///
/// A node holding synthetic data holds only its seed; the rows exist while it trains. This is the workload of
/// the simulation benchmark (`bench/simulation`), where the Flower side generates the same distribution.
public struct SyntheticBlobs: Sendable, Hashable {
    public let featureCount: Int
    public let classCount: Int
    /// The class centres, `[classCount × featureCount]`, shared by every node of a federation.
    public let centers: [Float]

    /// Centres for `classCount` classes in `featureCount` dimensions, drawn from `seed`.
    public init(featureCount: Int, classCount: Int, seed: UInt64) {
        self.featureCount = featureCount
        self.classCount = classCount
        var generator = SeededGenerator(seed: seed, stream: [0x6365_6E74]) // "cent"
        centers = (0..<(featureCount * classCount)).map { _ in 2 * generator.nextUnitFloat() - 1 }
    }

    /// `rows` rows drawn from `generator`.
    public func sample(rows: Int, generator: inout SeededGenerator) -> Dataset {
        let d = featureCount
        var labels = [Int32](repeating: 0, count: rows)
        var features = [Float](repeating: 0, count: rows * d)
        features.withUnsafeMutableBufferPointer { values in
            centers.withUnsafeBufferPointer { centers in
                for row in 0..<rows {
                    let label = generator.nextInt(below: classCount)
                    labels[row] = Int32(label)
                    let center = centers.baseAddress! + label * d
                    let target = values.baseAddress! + row * d
                    var j = 0
                    while j + 1 < d {
                        let (u, v) = generator.nextUnitFloatPair()
                        target[j] = center[j] + 2 * u - 1
                        target[j + 1] = center[j + 1] + 2 * v - 1
                        j += 2
                    }
                    if j < d { target[j] = center[j] + 2 * generator.nextUnitFloat() - 1 }
                }
            }
        }
        // The sizes agree by construction, so this cannot throw.
        return try! Dataset(features: features, labels: labels, featureCount: d, classCount: classCount)
    }
}
