public import PollenCore

/// A streaming weighted average of the metrics in replies (Flower's `aggregate_metricrecords`): every metric
/// except the weight itself is averaged with the reply's weight; lists are averaged element by element.
///
/// A metric whose shape differs between replies (a number in one, a list in another, or lists of other lengths)
/// has no meaningful average: it is left out of the result and named in `inconsistentKeys`. Whether a key is
/// consistent does not depend on the order replies are folded or merged in.
public struct WeightedMetricAverage: Sendable {
    /// A metric's shape: a single number, or a list of a given length.
    private enum Shape: Equatable, Sendable {
        case scalar
        case list(Int)
    }

    private var keys: [String] = []
    private var sums: [String: [Double]] = [:]
    private var shapes: [String: Shape] = [:]
    /// Metrics left out of the average because replies disagreed on their shape.
    public private(set) var inconsistentKeys: Set<String> = []
    /// The sum of the weights added so far.
    public private(set) var totalWeight = 0.0

    /// The metric whose value weighs each reply, excluded from the average.
    public let weightKey: String

    public init(weightKey: String) { self.weightKey = weightKey }

    /// Adds every metric record of `content` with `weight`.
    public mutating func add(_ content: RecordDict, weight: Double) {
        for (_, record) in content.metricRecords {
            for (key, value) in record where key != weightKey {
                let values = value.doubleListValue ?? [value.doubleValue ?? 0]
                accumulate(key, shape: value.doubleListValue == nil ? .scalar : .list(values.count), weighted: values.map { $0 * weight })
            }
        }
        totalWeight += weight
    }

    /// Adds `later`'s sums to these.
    public mutating func merge(_ later: WeightedMetricAverage) {
        inconsistentKeys.formUnion(later.inconsistentKeys)
        for key in later.keys {
            accumulate(key, shape: later.shapes[key]!, weighted: later.sums[key]!)
        }
        totalWeight += later.totalWeight
    }

    /// The averages of the consistent metrics, or `nil` when nothing with a positive weight was added.
    public var average: MetricRecord? {
        guard totalWeight > 0 else { return nil }
        return MetricRecord(keys.filter { !inconsistentKeys.contains($0) }.map { key in
            let values = sums[key]!.map { $0 / totalWeight }
            return (key, shapes[key] == .scalar ? MetricValue.double(values[0]) : .doubleList(values))
        })
    }

    private mutating func accumulate(_ key: String, shape: Shape, weighted: [Double]) {
        guard let existing = shapes[key] else {
            keys.append(key)
            shapes[key] = shape
            sums[key] = weighted
            return
        }
        guard existing == shape else {
            inconsistentKeys.insert(key)
            return
        }
        for i in weighted.indices { sums[key]![i] += weighted[i] }
    }
}
