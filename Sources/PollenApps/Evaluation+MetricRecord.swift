public import PollenCore
public import PollenML

extension Evaluation {
    /// The evaluation as the metrics an evaluate reply carries: `num-examples`, `eval-loss`, `eval-accuracy`
    /// and, for binary problems, `eval-auc`.
    public var metricRecord: MetricRecord {
        var metrics: MetricRecord = [
            "num-examples": .int(Int64(exampleCount)),
            "eval-loss": .double(loss),
            "eval-accuracy": .double(accuracy),
        ]
        if let rocAUC { metrics["eval-auc"] = .double(rocAUC) }
        return metrics
    }
}
