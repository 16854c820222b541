import Foundation
import Logging
import PollenApps
import PollenCore
import PollenLink
import PollenStore
import PollenStrategy

/// Starts the ServerApp of every run submitted to this SuperLink, beside it, and records how each run ends.
///
/// Runs that were `running` when the SuperLink stopped (killed, or crashed) are marked failed at start, with the
/// reason, so a researcher never waits on a run nobody drives.
struct RunLauncher: Sendable {
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

    /// Runs the built-in tabular ServerApp for `run` and records the outcome in the link state.
    private func execute(_ run: RunInfo) async {
        let state = handlers.state
        let runConfig = UserConfig(uniqueKeysWithValues: run.config.map { ($0.key, $0.value) })
        func log(_ line: String) async {
            try? await state.appendLog(run: run.id, line: line, now: Date().timeIntervalSince1970)
        }
        do {
            let config = try TabularAppConfig(runConfig: runConfig)
            await log("run \(run.id): FedAvg, \(config.rounds) rounds, \(config.model)")
            await log(RoundTable.header)
            let rows = RowSink()
            let app = TabularServerApp(config: config, onRound: { report in rows.append(RoundTable.row(report)) })
            let grid = LinkGrid(runID: run.id, state: state, objects: handlers.objects)
            let forwarder = Task {
                while !Task.isCancelled {
                    for line in rows.drain() { await log(line) }
                    try await Task.sleep(for: .seconds(0.1))
                }
            }
            defer { forwarder.cancel() }
            let outcome = try await app.run(grid: grid, context: Context(runID: run.id, nodeID: .superLink, runConfig: runConfig))
            // Stop the forwarder before the last rows, so the log keeps the rounds in order.
            forwarder.cancel()
            _ = await forwarder.result
            for line in rows.drain() { await log(line) }
            let final = outcome.result.rounds.last?.evaluate?.metrics
            let accuracy = final?[TabularMetrics.evalAccuracy]?.doubleValue.map { String(format: "%.4f", $0) } ?? "-"
            await log("final federated evaluation accuracy \(accuracy)")
            try await state.setRunStatus(run.id, to: .finished("completed", details: "eval-accuracy \(accuracy)"))
            logger.info("run completed", metadata: ["pollen.run.id": "\(run.id)"])
        } catch {
            await log("run failed: \(error)")
            try? await state.setRunStatus(run.id, to: .finished("failed", details: "\(error)"))
            logger.error("run failed", metadata: ["pollen.run.id": "\(run.id)", "error": "\(error)"])
        }
        // The run's messages and objects are no longer needed by anyone.
        try? await handlers.objects.deleteObjects(inRun: run.id)
    }
}

import Synchronization

/// Round rows produced on the ServerApp's tasks, forwarded to the run's log.
final class RowSink: Sendable {
    private let rows = Mutex<[String]>([])
    func append(_ row: String) { rows.withLock { $0.append(row) } }
    func drain() -> [String] { rows.withLock { rows in defer { rows.removeAll() }; return rows } }
}
