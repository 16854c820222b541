public import PollenCore
import PollenKernels

/// The streaming fold behind FedAvg's training rounds: the weighted sum of the replies' arrays, their total
/// weight, and the weighted sums of their metrics.
///
/// Holds one model-sized `Float` buffer however many replies it folds. A reply is counted as failed, with the
/// reason, if it carries an error, lacks the weight metric or the arrays, or its arrays differ in names, shapes
/// or dtype from the expected layout: the arrays the round sent, or else the first usable reply's. With the
/// round's arrays as the layout, every batch judges replies alike, so batching cannot change the result.
public struct WeightedArrayAverage: ReplyAggregation {
    /// The name, shape and place in `sums` of each averaged tensor, from the first usable reply.
    private struct Slot: Sendable, Equatable {
        var name: String
        var shape: [Int]
        var offset: Int
        var count: Int
    }

    private let weightKey: String
    private let arrayRecordKey: String
    private var slots: [Slot] = []
    /// The weighted sums, every slot after the other, each starting 64-byte aligned; a tensor for its zeroed,
    /// huge-page storage.
    private var sums: Tensor?
    private var totalWeight = 0.0
    /// The weighted sums of the replies' metrics.
    public private(set) var metrics: WeightedMetricAverage
    /// The counts of usable and failed replies.
    public private(set) var tally = ReplyTally()

    /// - Parameter expected: the arrays the round sent; replies must match their names, shapes and dtype. `nil`
    ///   takes the layout from the first usable reply.
    public init(weightKey: String, arrayRecordKey: String, expected: ArrayRecord? = nil) {
        self.weightKey = weightKey
        self.arrayRecordKey = arrayRecordKey
        metrics = WeightedMetricAverage(weightKey: weightKey)
        if let expected, expected.values.allSatisfy({ $0.dtype == .float32 }) {
            slots = Self.layout(of: expected)
        }
    }

    /// The fewest elements worth a core of their own in the fold (4 MiB of `Float`s): a model's large layers are
    /// folded on every core, its small ones on one.
    private static let elementsPerCore = 1 << 20

    /// Float32 elements in 64 bytes: every slot starts on a multiple, so the average's arrays can be views of
    /// `sums` (`Tensor.split`).
    private static let slotAlignment = 16

    private static func layout(of arrays: ArrayRecord) -> [Slot] {
        var offset = 0
        return arrays.map { entry in
            defer { offset = (offset + entry.value.count + slotAlignment - 1) / slotAlignment * slotAlignment }
            return Slot(name: entry.key, shape: entry.value.shape, offset: offset, count: entry.value.count)
        }
    }

    public mutating func add(_ reply: Message) {
        guard let content = reply.content else {
            tally.recordFailure("node \(reply.metadata.source): \(reply.error?.reason ?? "no content")")
            return
        }
        guard let arrays = content[arrays: arrayRecordKey] ?? content.arrayRecords.first?.value else {
            tally.recordFailure("node \(reply.metadata.source): the reply has no arrays")
            return
        }
        guard let weight = ReplyWeight.read(content, key: weightKey), weight >= 0 else {
            tally.recordFailure("node \(reply.metadata.source): the reply has no non-negative '\(weightKey)' metric")
            return
        }
        if slots.isEmpty {
            guard arrays.values.allSatisfy({ $0.dtype == .float32 }) else {
                tally.recordFailure("node \(reply.metadata.source): FedAvg averages float32 arrays only")
                return
            }
            slots = Self.layout(of: arrays)
        }
        if sums == nil {
            // Allocated on the first usable reply, so that an empty aggregation is cheap to copy. The layout's
            // arrays exist, so their total size cannot overflow.
            sums = try! Tensor(zeros: .float32, shape: [slots.last.map { $0.offset + $0.count } ?? 0])
        }
        guard arrays.count == slots.count,
              zip(arrays, slots).allSatisfy({ $0.key == $1.name && $0.value.shape == $1.shape && $0.value.dtype == .float32 })
        else {
            tally.recordFailure("node \(reply.metadata.source): its arrays differ in names, shapes or dtype from the first reply's")
            return
        }
        metrics.add(content, weight: weight)
        let factor = Float(weight)
        try! sums!.withUnsafeMutableBufferPointer(as: Float.self) { sums in
            for (slot, tensor) in zip(slots, arrays.values) {
                // The dtype was checked above, so the typed view cannot fail.
                try! tensor.withUnsafeBufferPointer(as: Float.self) { values in
                    // Element by element, so splitting across cores changes no bit of the sum.
                    ParallelFor.run(count: slot.count, minChunk: Self.elementsPerCore) { range in
                        VectorOps.axpy(
                            factor, values.baseAddress! + range.lowerBound, sums.baseAddress! + slot.offset + range.lowerBound,
                            count: range.count
                        )
                    }
                }
            }
        }
        totalWeight += weight
        tally.succeeded += 1
    }

    public mutating func merge(_ later: WeightedArrayAverage) {
        if sums == nil {
            let earlierTally = tally
            self = later
            tally = earlierTally
            tally.merge(later.tally)
            return
        }
        if let theirs = later.sums {
            guard later.slots == slots else {
                for _ in 0..<later.tally.succeeded {
                    tally.recordFailure("a batch of replies had arrays of other names or shapes than the first")
                }
                tally.merge(ReplyTally.failuresOnly(later.tally))
                return
            }
            try! sums!.withUnsafeMutableBufferPointer(as: Float.self) { sums in
                try! theirs.withUnsafeBufferPointer(as: Float.self) { theirs in
                    VectorOps.axpy(1, theirs.baseAddress!, sums.baseAddress!, count: sums.count)
                }
            }
            totalWeight += later.totalWeight
            metrics.merge(later.metrics)
        }
        tally.merge(later.tally)
    }

    /// The weighted average, or `nil` when no reply with a positive total weight was folded. The sums become the
    /// average in place, so this aggregation has no arrays left afterwards (a second call returns `nil`), and the
    /// average's arrays share one buffer: a round allocates no second model.
    public mutating func takeAverage() -> ArrayRecord? {
        guard totalWeight > 0, var average = sums else { return nil }
        sums = nil
        // Dividing (rather than multiplying by the reciprocal) keeps the average of identical updates exact.
        let total = Float(totalWeight)
        try! average.withUnsafeMutableBufferPointer(as: Float.self) { values in
            ParallelFor.run(count: values.count, minChunk: Self.elementsPerCore) { range in
                for index in range { values[index] /= total }
            }
        }
        // The layout's slots are in order, apart and 64-byte aligned inside `sums`, so the split cannot fail.
        let parts = try! (consume average).split(shapes: slots.map(\.shape), offsets: slots.map(\.offset))
        return ArrayRecord(zip(slots, parts).map { ($0.name, $1) })
    }
}

/// The streaming fold behind FedAvg's evaluation rounds: weighted averages of the replies' metrics.
public struct MetricAverageAggregation: ReplyAggregation {
    private let weightKey: String
    /// The weighted sums of the replies' metrics.
    public private(set) var metrics: WeightedMetricAverage
    /// The counts of usable and failed replies.
    public private(set) var tally = ReplyTally()

    public init(weightKey: String) {
        self.weightKey = weightKey
        metrics = WeightedMetricAverage(weightKey: weightKey)
    }

    public mutating func add(_ reply: Message) {
        guard let content = reply.content else {
            tally.recordFailure("node \(reply.metadata.source): \(reply.error?.reason ?? "no content")")
            return
        }
        guard let weight = ReplyWeight.read(content, key: weightKey), weight >= 0 else {
            tally.recordFailure("node \(reply.metadata.source): the reply has no non-negative '\(weightKey)' metric")
            return
        }
        metrics.add(content, weight: weight)
        tally.succeeded += 1
    }

    public mutating func merge(_ later: MetricAverageAggregation) {
        metrics.merge(later.metrics)
        tally.merge(later.tally)
    }
}

/// Reads a reply's weight: the named metric in its first metric record that has it.
enum ReplyWeight {
    static func read(_ content: RecordDict, key: String) -> Double? {
        for (_, record) in content.metricRecords {
            if let value = record[key]?.doubleValue { return value }
        }
        return nil
    }
}

extension ReplyTally {
    /// A tally with `other`'s failures only (its successes were not usable here).
    public static func failuresOnly(_ other: ReplyTally) -> ReplyTally {
        var tally = ReplyTally()
        tally.failed = other.failed
        tally.failureReasons = other.failureReasons
        return tally
    }
}
