public import PollenCore

/// A streaming weighted average of the metrics in replies (Flower's `aggregate_metricrecords`): every metric
/// except the weight itself is averaged with the reply's weight; lists are averaged element by element.
public struct WeightedMetricAverage: Sendable {
    private var keys: [String] = []
    private var sums: [String: [Double]] = [:]
    private var isList: [String: Bool] = [:]
    /// The sum of the weights added so far.
    public private(set) var totalWeight = 0.0

    /// The metric whose value weighs each reply, excluded from the average.
    public let weightKey: String

    public init(weightKey: String) { self.weightKey = weightKey }

    /// Adds every metric record of `content` with `weight`; returns a reason if a metric list's length differs
    /// from the first reply's (the reply is then not added).
    public mutating func add(_ content: RecordDict, weight: Double) -> String? {
        let records = content.metricRecords
        for (_, record) in records {
            for (key, value) in record where key != weightKey {
                if let list = value.doubleListValue, let existing = sums[key], existing.count != list.count {
                    return "metric '\(key)' has \(list.count) values, earlier replies had \(existing.count)"
                }
            }
        }
        for (_, record) in records {
            for (key, value) in record where key != weightKey {
                let values = value.doubleListValue ?? [value.doubleValue ?? 0]
                if sums[key] == nil {
                    keys.append(key)
                    sums[key] = Array(repeating: 0, count: values.count)
                    isList[key] = value.doubleListValue != nil
                }
                for i in values.indices { sums[key]![i] += weight * values[i] }
            }
        }
        totalWeight += weight
        return nil
    }

    /// Adds `later`'s sums to these.
    public mutating func merge(_ later: WeightedMetricAverage) {
        for key in later.keys {
            guard let theirs = later.sums[key] else { continue }
            if let ours = sums[key] {
                guard ours.count == theirs.count else { continue }
                sums[key] = zip(ours, theirs).map(+)
            } else {
                keys.append(key)
                sums[key] = theirs
                isList[key] = later.isList[key]
            }
        }
        totalWeight += later.totalWeight
    }

    /// The averages, or `nil` when nothing with a positive weight was added.
    public var average: MetricRecord? {
        guard totalWeight > 0 else { return nil }
        return MetricRecord(keys.map { key in
            let values = sums[key]!.map { $0 / totalWeight }
            return (key, isList[key]! ? MetricValue.doubleList(values) : .double(values[0]))
        })
    }
}
