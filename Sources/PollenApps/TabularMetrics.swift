/// The metric names the tabular app's replies and reports use.
public enum TabularMetrics {
    /// The rows a reply's numbers cover, and FedAvg's weight (Flower's `num-examples`).
    public static let numExamples = "num-examples"
    /// The mean training loss of a node's local epochs.
    public static let trainLoss = "train-loss"
    /// The mean cross-entropy on held-out rows.
    public static let evalLoss = "eval-loss"
    /// The accuracy on held-out rows.
    public static let evalAccuracy = "eval-accuracy"
    /// The ROC AUC on held-out rows, for binary problems.
    public static let evalAUC = "eval-auc"
}
