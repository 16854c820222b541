import Foundation
import Logging
import PollenApps
import PollenCore
import PollenLink
import PollenStore
import PollenStrategy
import ServiceLifecycle

/// Starts the ServerApp of every run submitted to this SuperLink, beside it, and records how each run ends.
///
/// Runs that were `running` when the SuperLink stopped (killed, or crashed) are marked failed at start, with the
/// reason, so a researcher never waits on a run nobody drives.
struct RunLauncher: Service {
    let handlers: FleetHandlers
    let logger: Logger
    /// Seconds between looks for new runs.
    let pollSeconds = 0.2

    func run() async throws {
        for run in try await handlers.state.runs() where run.status.phase == "running" || run.status.phase == "starting" {
            try await handlers.state.setRunStatus(run.id, to: .finished(
                "failed", details: "the SuperLink stopped while this run was running; submit it again"
            ))
        }
        do {
            // A graceful shutdown cancels the runs in hand; each ends as failed, saying why.
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    while !Task.isCancelled {
                        for run in try await handlers.state.runs() where run.status == .pending {
                            do {
                                try await handlers.state.setRunStatus(run.id, to: .running)
                            } catch {
                                // Stopped between the listing and the start: nothing to run.
                                continue
                            }
                            group.addTask { await execute(run) }
                        }
                        try await Task.sleep(for: .seconds(pollSeconds))
                    }
                }
            }
        } catch is CancellationError {
            // Shut down.
        }
    }

    /// Runs the ServerApp of the built-in app `run` names and records the outcome in the link state.
    private func execute(_ run: RunInfo) async {
        let state = handlers.state
        let runConfig = UserConfig(uniqueKeysWithValues: run.config.map { ($0.key, $0.value) })
        let log = RunLog(run: run.id, state: state)
        do {
            let grid = LinkGrid(runID: run.id, state: state, objects: handlers.objects)
            let details: String
            switch try BuiltInApp(runConfig: runConfig) {
            case .tabular: details = try await runTabular(run, runConfig: runConfig, grid: grid, log: log)
            case .modelTransfer: details = try await runModelTransfer(runConfig: runConfig, grid: grid, log: log)
            }
            try await state.setRunStatus(run.id, to: .finished("completed", details: details))
            logger.info("run completed", metadata: ["pollen.run.id": "\(run.id)"])
        } catch {
            let reason = Task.isCancelled ? "the SuperLink shut down while this run was running; submit it again" : "\(error)"
            // Recorded even when the shutdown cancelled this task (the database refuses work from cancelled tasks).
            await Task {
                await log.write("run failed: \(reason)")
                try? await state.setRunStatus(run.id, to: .finished("failed", details: reason))
            }.value
            logger.error("run failed", metadata: ["pollen.run.id": "\(run.id)", "error": "\(error)"])
        }
        // The run's messages and objects are no longer needed by anyone (also after a shutdown cancelled the run).
        await Task { [objects = handlers.objects] in try? await objects.deleteObjects(inRun: run.id) }.value
    }

    /// The tabular app: the feature survey, then FedAvg with the table `pollen simulate` prints.
    private func runTabular(_ run: RunInfo, runConfig: UserConfig, grid: LinkGrid, log: RunLog) async throws -> String {
        let config = try TabularAppConfig(runConfig: runConfig)
        await log.write("run \(run.id): FedAvg, \(config.rounds) rounds, \(config.model)")
        await log.write(RoundTable.header)
        let outcome = try await log.forwardingRows { rows in
            try await TabularServerApp(config: config, onRound: { rows.append(RoundTable.row($0)) })
                .run(grid: grid, context: Context(runID: run.id, nodeID: .superLink, runConfig: runConfig))
        }
        let final = outcome.result.rounds.last?.evaluate?.metrics
        let accuracy = final?[TabularMetrics.evalAccuracy]?.doubleValue.map { String(format: "%.4f", $0) } ?? "-"
        await log.write("final federated evaluation accuracy \(accuracy)")
        return "eval-accuracy \(accuracy)"
    }

    /// The model-transfer app: one line per round with its duration.
    private func runModelTransfer(runConfig: UserConfig, grid: LinkGrid, log: RunLog) async throws -> String {
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
        if let failed = result.rounds.first(where: { $0.train.arrays == nil }) {
            throw CLIError("round \(failed.round) produced no model: \(failed.train.skippedReason ?? "no replies")")
        }
        let seconds = result.rounds.map(\.seconds)
        return "round seconds " + seconds.map { String(format: "%.3f", $0) }.joined(separator: " ")
    }
}

/// A run's log in the link state, and the forwarding of rows produced on the ServerApp's tasks to it.
struct RunLog: Sendable {
    let run: RunID
    let state: any LinkState

    func write(_ line: String) async {
        try? await state.appendLog(run: run, line: line, now: Date().timeIntervalSince1970)
    }

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
