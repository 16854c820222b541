import PollenApps
import PollenCore
import PollenStrategy

/// The per-round table `pollen simulate` prints: one line per round as it ends.
enum RoundTable {
    static let header = "round  train-loss  eval-loss  eval-acc  test-loss  test-acc  replies  failed  seconds"

    static func row(_ report: RoundReport) -> String {
        let trainLoss = report.train.metrics?[TabularMetrics.trainLoss]?.doubleValue
        let evalLoss = report.evaluate?.metrics?[TabularMetrics.evalLoss]?.doubleValue
        let evalAccuracy = report.evaluate?.metrics?[TabularMetrics.evalAccuracy]?.doubleValue
        let testLoss = report.centralMetrics?[TabularMetrics.evalLoss]?.doubleValue
        let testAccuracy = report.centralMetrics?[TabularMetrics.evalAccuracy]?.doubleValue
        var line = [
            pad(String(report.round), 5), pad(format(trainLoss), 10), pad(format(evalLoss), 9), pad(format(evalAccuracy), 8),
            pad(format(testLoss), 9), pad(format(testAccuracy), 8), pad(String(report.train.tally.succeeded), 7),
            pad(String(report.train.tally.failed), 6), pad(format(report.seconds, digits: 3), 7),
        ].joined(separator: "  ")
        if let skipped = report.train.skippedReason {
            line += "  (\(skipped))"
        } else if let reason = report.train.tally.failureReasons.first ?? report.evaluate?.tally.failureReasons.first {
            line += "  (first failure: \(reason))"
        }
        return line
    }

    static func format(_ value: Double?, digits: Int = 4) -> String {
        guard let value else { return "-" }
        return String(format: "%.\(digits)f", value)
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

import Foundation
