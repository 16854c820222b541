public import PollenCore
import PollenKernels

/// The streaming fold behind FedAvg's training rounds: the weighted sum of the replies' arrays, their total
/// weight, and the weighted sums of their metrics.
///
/// Holds one model's worth of `Float` sums however many replies it folds, and allocates none when it can help
/// it: the first usable reply's arrays become the sums (scaled by its weight in place) when the reply is handed
/// over with no other copy of it alive, as a grid delivering replies does; otherwise they are copied once. Arrays
/// still held in the chunks they arrived in (`Tensor.isHeldInPieces`) are read from there, never assembled first. A reply
/// is counted as failed, with the reason, if it carries an error, lacks the weight metric or the arrays, or its
/// arrays differ in names, shapes or dtype from the expected layout: the arrays the round sent, or else the first
/// usable reply's. With the round's arrays as the layout, every batch judges replies alike, so batching cannot
/// change the result.
public struct WeightedArrayAverage: ReplyAggregation {
    /// The name and shape of each averaged tensor, in order.
    private struct Slot: Sendable, Equatable {
        var name: String
        var shape: [Int]
    }

    private let weightKey: String
    private let arrayRecordKey: String
    private var slots: [Slot] = []
    /// The weighted sums, one tensor per slot.
    private var sums: [Tensor]?
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
            Self.prepareBuffers(for: expected)
        }
    }

    /// Rounds alternate two buffers per large array, the model and the sums that become the next model, and take
    /// them from `MappingPool` once the first rounds have made them. When the pool has none for an array (the first
    /// round: its model is often zeros nobody wrote, which holds no pages), both are made ready in the background
    /// while the round's messages travel, so that neither this round's sums nor the next round's are made of pages
    /// touched for the first time as replies are folded (up to 250 ms per 100 MB on a virtual machine whose host
    /// reclaims freed memory).
    private static func prepareBuffers(for arrays: ArrayRecord) {
        for byteCount in buffersToPrepare(for: arrays, pool: .shared) {
            MappingPool.shared.prepare(count: 2, forBytes: byteCount)
        }
    }

    /// The sizes of `arrays` for which `pool` holds no buffer: each gets its two prepared.
    static func buffersToPrepare(for arrays: ArrayRecord, pool: MappingPool) -> [Int] {
        arrays.values.map(\.byteCount).filter { pool.fittingCount(forBytes: $0) == 0 && $0 >= MappingPool.smallestMappedTensor }
    }

    /// The fewest elements worth a core of their own in the fold (4 MiB of `Float`s): a model's large layers are
    /// folded on every core, its small ones on one.
    private static let elementsPerCore = 1 << 20

    /// Calls `body(values, offset, count)` for runs of `tensor`'s `Float` elements that together cover it once, on
    /// every core for a large tensor: `values` points at `count` elements (at any alignment, wherever the tensor's
    /// pieces are) that start at element `offset`.
    private static func forEachRun(of tensor: Tensor, _ body: (UnsafeRawPointer, Int, Int) -> Void) {
        let width = MemoryLayout<Float>.stride
        tensor.withUnsafePieces { pieces in
            var starts = [Int]()
            var total = 0
            for piece in pieces {
                starts.append(total)
                total += piece.count / width
            }
            ParallelFor.run(count: total, minChunk: elementsPerCore) { range in
                for (piece, start) in zip(pieces, starts) {
                    let lower = max(start, range.lowerBound), upper = min(start + piece.count / width, range.upperBound)
                    if lower < upper { body(piece.baseAddress! + (lower - start) * width, lower, upper - lower) }
                }
            }
        }
    }

    private static func layout(of arrays: ArrayRecord) -> [Slot] {
        arrays.map { Slot(name: $0.key, shape: $0.value.shape) }
    }

    /// Folds in `reply`. Taking the reply (`consuming`) lets its arrays become the sums without a copy when it is
    /// the first usable one.
    public mutating func add(_ reply: consuming Message) {
        let source = reply.metadata.source
        var reply = reply
        guard var content = reply.takeContent() else {
            tally.recordFailure("node \(source): \(reply.error?.reason ?? "no content")")
            return
        }
        guard let key = content[arrays: arrayRecordKey] != nil ? arrayRecordKey : content.arrayRecords.first?.key,
              var arrays = content[arrays: key]
        else {
            tally.recordFailure("node \(source): the reply has no arrays")
            return
        }
        guard let weight = ReplyWeight.read(content, key: weightKey), weight >= 0 else {
            tally.recordFailure("node \(source): the reply has no non-negative '\(weightKey)' metric")
            return
        }
        if slots.isEmpty {
            guard arrays.values.allSatisfy({ $0.dtype == .float32 }) else {
                tally.recordFailure("node \(source): FedAvg averages float32 arrays only")
                return
            }
            slots = Self.layout(of: arrays)
        }
        guard arrays.count == slots.count,
              zip(arrays, slots).allSatisfy({ $0.key == $1.name && $0.value.shape == $1.shape && $0.value.dtype == .float32 })
        else {
            tally.recordFailure("node \(source): its arrays differ in names, shapes or dtype from the first reply's")
            return
        }
        // The arrays leave the content, so that each tensor below is referenced once, by `arrays`.
        content[arrays: key] = nil
        metrics.add(content, weight: weight)
        let factor = Float(weight)
        // The layout was checked above, so every name is there and every dtype is float32. Element by element, so
        // splitting the work across cores changes no bit of the sums.
        if sums == nil {
            sums = slots.map { slot in
                var tensor = arrays[slot.name]!
                arrays[slot.name] = nil
                guard tensor.isHeldInPieces else {
                    // Removed from the record, the tensor is unique if the reply was: scaled in place, it is the sum.
                    try! tensor.withUnsafeMutableBufferPointer(as: Float.self) { values in
                        ParallelFor.run(count: values.count, minChunk: Self.elementsPerCore) { range in
                            VectorOps.scaleOntoZero(factor, values.baseAddress! + range.lowerBound, count: range.count)
                        }
                    }
                    return tensor
                }
                // Read from its chunks into the one buffer the sums need.
                return try! Tensor(dtype: .float32, shape: slot.shape) { destination in
                    let sums = destination.baseAddress!.assumingMemoryBound(to: Float.self)
                    Self.forEachRun(of: tensor) { values, offset, count in
                        VectorOps.scaleOntoZero(factor, bytes: values, into: sums + offset, count: count)
                    }
                }
            }
        } else {
            for (index, tensor) in zip(sums!.indices, arrays.values) {
                try! sums![index].withUnsafeMutableBufferPointer(as: Float.self) { sums in
                    Self.forEachRun(of: tensor) { values, offset, count in
                        VectorOps.axpy(factor, bytes: values, sums.baseAddress! + offset, count: count)
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
            for (index, tensor) in zip(sums!.indices, theirs) {
                try! sums![index].withUnsafeMutableBufferPointer(as: Float.self) { sums in
                    try! tensor.withUnsafeBufferPointer(as: Float.self) { theirs in
                        VectorOps.axpy(1, theirs.baseAddress!, sums.baseAddress!, count: sums.count)
                    }
                }
            }
            totalWeight += later.totalWeight
            metrics.merge(later.metrics)
        }
        tally.merge(later.tally)
    }

    /// The weighted average, or `nil` when no reply with a positive total weight was folded. The sums become the
    /// average in place, so this aggregation has no arrays left afterwards (a second call returns `nil`): a round
    /// allocates no second model.
    public mutating func takeAverage() -> ArrayRecord? {
        guard totalWeight > 0, var average = sums else { return nil }
        sums = nil
        // Dividing (rather than multiplying by the reciprocal) keeps the average of identical updates exact.
        let total = Float(totalWeight)
        for index in average.indices {
            try! average[index].withUnsafeMutableBufferPointer(as: Float.self) { values in
                ParallelFor.run(count: values.count, minChunk: Self.elementsPerCore) { range in
                    for index in range { values[index] /= total }
                }
            }
        }
        return ArrayRecord(zip(slots, average).map { ($0.name, $1) })
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

    public mutating func add(_ reply: consuming Message) {
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
