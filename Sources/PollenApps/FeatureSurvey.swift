public import PollenCore
public import PollenML
public import PollenStrategy

/// The fold over the replies to the tabular app's `query` round: global feature sums and class counts, from
/// which the ServerApp derives the model's shape and the standardisation every node applies.
public struct FeatureSurvey: ReplyAggregation {
    /// The summed feature statistics, or `nil` before the first usable reply.
    public private(set) var sums: FeatureSums?
    /// Rows per class across the federation.
    public private(set) var classCounts: [Int] = []
    /// The counts of usable and failed replies.
    public private(set) var tally = ReplyTally()

    public init() {}

    public mutating func add(_ reply: consuming Message) {
        guard let metrics = reply.content?[metrics: "metrics"] else {
            tally.recordFailure("node \(reply.metadata.source): \(reply.error?.reason ?? "no metrics in the reply")")
            return
        }
        guard let count = metrics["num-examples"]?.doubleValue, let sum = metrics["feature-sum"]?.doubleListValue,
              let sumOfSquares = metrics["feature-sum-sq"]?.doubleListValue, sum.count == sumOfSquares.count,
              let classes = metrics["class-counts"]?.doubleListValue
        else {
            tally.recordFailure("node \(reply.metadata.source): the survey reply lacks num-examples, feature-sum, feature-sum-sq or class-counts")
            return
        }
        let classCounts = classes.compactMap { Int(exactly: $0) }.filter { $0 >= 0 }
        guard let rows = Int(exactly: count), rows >= 0, classCounts.count == classes.count,
              (sum + sumOfSquares).allSatisfy(\.isFinite)
        else {
            tally.recordFailure("node \(reply.metadata.source): the survey reply holds negative, fractional or non-finite counts")
            return
        }
        let reported = FeatureSums(count: rows, sum: sum, sumOfSquares: sumOfSquares)
        if let existing = sums, existing.sum.count != sum.count {
            tally.recordFailure("node \(reply.metadata.source): reports \(sum.count) features, earlier nodes \(existing.sum.count)")
            return
        }
        if sums == nil { sums = reported } else { sums!.add(reported) }
        addClassCounts(classCounts)
        tally.succeeded += 1
    }

    public mutating func merge(_ later: FeatureSurvey) {
        if let theirs = later.sums {
            if let ours = sums, ours.sum.count != theirs.sum.count {
                // The whole batch disagrees with the earlier nodes: count its answers as failures.
                for _ in 0..<later.tally.succeeded {
                    tally.recordFailure("reports \(theirs.sum.count) features, earlier nodes \(ours.sum.count)")
                }
                tally.merge(ReplyTally.failuresOnly(later.tally))
                return
            }
            if sums == nil { sums = theirs } else { sums!.add(theirs) }
            addClassCounts(later.classCounts)
        }
        tally.merge(later.tally)
    }

    private mutating func addClassCounts(_ counts: [Int]) {
        if counts.count > classCounts.count {
            classCounts += Array(repeating: 0, count: counts.count - classCounts.count)
        }
        for (label, count) in counts.enumerated() { classCounts[label] += count }
    }
}
