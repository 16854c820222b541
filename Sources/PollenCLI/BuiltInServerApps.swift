import Foundation
import PollenApps
import PollenCore
import PollenStrategy

/// The ServerApps of the built-in apps, run on any `Grid`: beside the SuperLink (`--isolation none`) or in a
/// ServerApp process of their own (`pollen serverapp`).
enum BuiltInServerApps {
    /// Runs the ServerApp the run configuration's `app` names; returns the run's closing details.
    static func run(_ runID: RunID, runConfig: UserConfig, grid: some Grid, log: RunLog) async throws -> String {
        switch try BuiltInApp(runConfig: runConfig) {
        case .tabular: try await runTabular(runID, runConfig: runConfig, grid: grid, log: log)
        case .modelTransfer: try await runModelTransfer(runConfig: runConfig, grid: grid, log: log)
        }
    }

    /// The tabular app: the feature survey, then FedAvg with the table `pollen simulate` prints.
    private static func runTabular(_ run: RunID, runConfig: UserConfig, grid: some Grid, log: RunLog) async throws -> String {
        let config = try TabularAppConfig(runConfig: runConfig)
        await log.write("run \(run): FedAvg, \(config.rounds) rounds, \(config.model)")
        await log.write(RoundTable.header)
        let outcome = try await log.forwardingRows { rows in
            try await TabularServerApp(config: config, onRound: { rows.append(RoundTable.row($0)) })
                .run(grid: grid, context: Context(runID: run, nodeID: .superLink, runConfig: runConfig))
        }
        let final = outcome.result.rounds.last?.evaluate?.metrics
        let accuracy = final?[TabularMetrics.evalAccuracy]?.doubleValue.map { String(format: "%.4f", $0) } ?? "-"
        await log.write("final federated evaluation accuracy \(accuracy)")
        return "eval-accuracy \(accuracy)"
    }

    /// The model-transfer app: one line per round with its duration.
    private static func runModelTransfer(runConfig: UserConfig, grid: some Grid, log: RunLog) async throws -> String {
        let config = try ModelTransferConfig(runConfig: runConfig)
        let megabytes = Double(config.parameters * 4) / 1e6
        await log.write("model transfer: \(config.parameters) float32 parameters (\(String(format: "%.1f", megabytes)) MB) to \(config.minAvailableNodes) nodes, \(config.rounds) rounds")
        let result = try await log.forwardingRows { rows in
            try await ModelTransferApp.run(config: config, grid: grid) { report in
                var row = "round \(report.round): \(String(format: "%.3f", report.seconds)) s, \(report.train.tally.succeeded) replies, \(report.train.tally.failed) failed"
                let failures = report.train.tally.failureReasons
                if !failures.isEmpty {
                    row += " (failures: \(failures.joined(separator: "; ")))"
                } else if let reason = report.train.skippedReason {
                    row += " (\(reason))"
                }
                rows.append(row)
            }
        }
        if let failed = result.rounds.first(where: { $0.train.skippedReason != nil }) {
            throw CLIError("round \(failed.round) produced no model: \(failed.train.skippedReason ?? "no replies")")
        }
        if let (first, last) = ModelTransferApp.endpoints(of: result.arrays) {
            await log.write("final model: first parameter \(String(format: "%.6f", first)), last \(String(format: "%.6f", last))")
        }
        let seconds = result.rounds.map(\.seconds)
        return "round seconds " + seconds.map { String(format: "%.3f", $0) }.joined(separator: " ")
    }
}

/// A run's log, and the forwarding of rows produced on the ServerApp's tasks to it.
struct RunLog: Sendable {
    /// Appends one line to the run's log (into the link state, or through the runtime API).
    let write: @Sendable (String) async -> Void

    /// Runs `body`, writing the rows it appends to the log as they come, in order, all of them before returning.
    func forwardingRows<T: Sendable>(_ body: (RowSink) async throws -> T) async throws -> T {
        let rows = RowSink()
        let forwarder = Task {
            while !Task.isCancelled {
                for line in rows.drain() { await write(line) }
                try await Task.sleep(for: .seconds(0.1))
            }
        }
        let result: Result<T, any Error>
        do { result = .success(try await body(rows)) } catch { result = .failure(error) }
        // Stop the forwarder before the last rows, so the log keeps the rounds in order.
        forwarder.cancel()
        _ = await forwarder.result
        for line in rows.drain() { await write(line) }
        return try result.get()
    }
}

import Synchronization

/// Round rows produced on the ServerApp's tasks, forwarded to the run's log.
final class RowSink: Sendable {
    private let rows = Mutex<[String]>([])
    func append(_ row: String) { rows.withLock { $0.append(row) } }
    func drain() -> [String] { rows.withLock { rows in defer { rows.removeAll() }; return rows } }
}
