/// Metrics of a classifier's predictions.
public enum ClassificationMetrics {
    /// The area under the ROC curve of binary `scores` (higher means class 1) against `labels` (0 or 1): the
    /// probability that a random positive row scores above a random negative one, ties counting half
    /// (the Mann–Whitney statistic). `nil` when either class is absent.
    public static func rocAUC(scores: [Double], labels: [Int32]) -> Double? {
        precondition(scores.count == labels.count, "\(scores.count) scores for \(labels.count) labels")
        let positives = labels.lazy.filter { $0 == 1 }.count
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        // Average ranks (1-based) over runs of tied scores.
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && scores[order[end + 1]] == scores[order[start]] { end += 1 }
            let averageRank = Double(start + end + 2) / 2
            for k in start...end where labels[order[k]] == 1 { positiveRankSum += averageRank }
            start = end + 1
        }
        let p = Double(positives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }

    /// The fraction of `predictions` equal to `labels`.
    public static func accuracy(predictions: [Int32], labels: [Int32]) -> Double {
        precondition(predictions.count == labels.count, "\(predictions.count) predictions for \(labels.count) labels")
        guard !labels.isEmpty else { return 0 }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}
