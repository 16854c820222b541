public import PollenCore
public import PollenML

extension Evaluation {
    /// The evaluation as the metrics an evaluate reply carries: `num-examples`, `eval-loss`, `eval-accuracy`
    /// and, for binary problems, `eval-auc`.
    public var metricRecord: MetricRecord {
        var metrics: MetricRecord = [
            TabularMetrics.numExamples: .int(Int64(exampleCount)),
            TabularMetrics.evalLoss: .double(loss),
            TabularMetrics.evalAccuracy: .double(accuracy),
        ]
        if let rocAUC { metrics[TabularMetrics.evalAUC] = .double(rocAUC) }
        return metrics
    }
}
