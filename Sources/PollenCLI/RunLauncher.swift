import Foundation
import Logging
import PollenApps
import PollenCore
import PollenLink
import PollenNode
import PollenStore
import PollenWire
import PollenStrategy
import ServiceLifecycle

/// Starts the ServerApp of every run submitted to this SuperLink, in a process of its own (or beside it), and
/// records how each run ends.
///
/// Runs that were `running` when the SuperLink stopped (killed, or crashed) are marked failed at start, with the
/// reason, so a researcher never waits on a run nobody drives.
struct RunLauncher: Service {
    let handlers: FleetHandlers
    /// The app runtime API a ServerApp process talks to.
    let runtimeHandlers: RuntimeHandlers
    let isolation: ServerAppIsolation
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

    /// Runs the ServerApp of `run` (the built-in app it names, or the Flower App Bundle it was submitted with) and
    /// records the outcome in the link state.
    private func execute(_ run: RunInfo) async {
        let state = handlers.state
        let log = RunLog { line in try? await state.appendLog(run: run.id, line: line, now: Date().timeIntervalSince1970) }
        let outcome: Result<String?, any Error>
        switch isolation {
        case .none: outcome = await inThisProcess(run, log: log)
        case .process(let executable, let runtime, let limits, let flower):
            outcome = await inAProcessOfItsOwn(run, executable: executable, runtime: runtime, limits: limits, flower: flower)
        }
        let cancelled = Task.isCancelled
        // Recorded even when the shutdown cancelled this task (the database refuses work from cancelled tasks), and
        // only while the run is running: a run the researcher stopped stays stopped.
        await Task { [objects = handlers.objects, logger] in
            let running = (try? await state.run(run.id))?.status == .running
            switch outcome {
            case .success(let details?) where running:
                try? await state.setRunStatus(run.id, to: .finished("completed", details: details))
                logger.info("run completed", metadata: ["pollen.run.id": "\(run.id)"])
            case .success: break
            case .failure(let error):
                let reason = cancelled ? "the SuperLink shut down while this run was running; submit it again" : "\(error)"
                if running {
                    await log.write("run failed: \(reason)")
                    try? await state.setRunStatus(run.id, to: .finished("failed", details: reason))
                }
                logger.error("run failed", metadata: ["pollen.run.id": "\(run.id)", "error": "\(reason)"])
            }
            // The run's messages and objects are no longer needed by anyone.
            try? await objects.deleteObjects(inRun: run.id)
        }.value
    }

    /// The ServerApp beside the SuperLink: its details, or why it failed.
    private func inThisProcess(_ run: RunInfo, log: RunLog) async -> Result<String?, any Error> {
        do {
            let grid = LinkGrid(runID: run.id, state: handlers.state, objects: handlers.objects, signals: handlers.signals)
            return .success(try await BuiltInServerApps.run(run.id, runConfig: run.userConfig, grid: grid, log: log))
        } catch {
            return .failure(error)
        }
    }

    /// The ServerApp in a process of its own, which reports the run's end itself through the runtime API: `pollen
    /// serverapp` for a built-in app, Flower's `flwr-serverapp` for a Flower App Bundle. `.success(nil)` once it has
    /// reported, a failure naming how the process ended when it did not.
    private func inAProcessOfItsOwn(
        _ run: RunInfo, executable: String, runtime: RuntimePort, limits: ServerAppLimits, flower: FlowerServerApp?
    ) async -> Result<String?, any Error> {
        let process = Process()
        let timedOut: Bool
        // A private folder for what a Flower ServerApp needs on disk: its token, its bundle, its FLWR_HOME.
        var folder: String?
        defer { if let folder { try? FileManager.default.removeItem(atPath: folder) } }
        do {
            let port = try await runtime.value()
            let token = await runtimeHandlers.tokens.issue(for: run.id)
            if let app = run.flowerApp {
                guard let flower else {
                    throw CLIError("the run is a Flower App Bundle, and this SuperLink has no flwr-serverapp to run it (--flower-serverapp)")
                }
                let made = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-flower-serverapp-\(run.id)-\(UUID().uuidString)").path
                try FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                folder = made
                try await prepare(flower, app: app, run: run.id, token: token, in: made, process: process, port: port, limits: limits)
            } else {
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["serverapp", "--runtime-api", "http://127.0.0.1:\(port)"]
                    + (limits.memoryMegabytes.map { ["--memory-limit-mb", String($0)] } ?? [])
                // In the environment, not the arguments: other users of the machine can list arguments.
                process.environment = ProcessInfo.processInfo.environment.merging([ServerAppCommand.tokenVariable: token]) { $1 }
            }
            process.standardInput = FileHandle.nullDevice
            // The process ends by itself, at its time limit, or once its run is no longer running (stopped by the
            // researcher).
            timedOut = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { try await ChildProcess.run(process, timeLimitSeconds: limits.timeLimitSeconds) }
                group.addTask { [state = handlers.state, pollSeconds] in
                    while (try? await state.run(run.id))?.status == .running { try await Task.sleep(for: .seconds(pollSeconds)) }
                    return false
                }
                var timedOut = false
                do {
                    timedOut = try await group.next() ?? false
                } catch is CancellationError where !Task.isCancelled {
                    // The watcher's cancellation of the process after the run stopped: not a shutdown.
                }
                group.cancelAll()
                while !group.isEmpty {
                    do { timedOut = try await group.next() == true || timedOut } catch is CancellationError where !Task.isCancelled {}
                }
                return timedOut
            }
            await runtimeHandlers.end(run.id)
        } catch let error as ChildProcess.LaunchError {
            await runtimeHandlers.end(run.id)
            return .failure(CLIError("cannot start the ServerApp process '\(process.executableURL?.path ?? executable)': \(error.underlying)"))
        } catch {
            await runtimeHandlers.end(run.id)
            return .failure(error)
        }
        guard (try? await handlers.state.run(run.id))?.status == .running else { return .success(nil) }
        // A Flower ServerApp's last words, read before its folder goes.
        let printed = folder.map { IsolatedClientApp.lastLines(of: $0 + "/output.log") } ?? ""
        if timedOut, let seconds = limits.timeLimitSeconds {
            return .failure(CLIError("the run took longer than the SuperLink's limit of \(seconds) s (--serverapp-timeout), and its ServerApp was stopped"))
        }
        let how = process.terminationReason == .exit
            ? "exited with status \(process.terminationStatus)" : "crashed with signal \(process.terminationStatus)"
        let memory = limits.memoryMegabytes.map { " (its memory limit is \($0) MiB: --serverapp-memory-limit)" } ?? ""
        return .failure(CLIError("the ServerApp process \(how)\(memory) before reporting the run's end\(printed)"))
    }


    /// Sets `process` up as Flower's `flwr-serverapp` for the run of `app`, as Flower's SuperExec starts it: the token
    /// in a file only this user reads, `FLWR_HOME` (where it installs the bundle) in `folder`, a short environment
    /// with no telemetry, its output in `folder/output.log`, and the memory limit through the shell's `ulimit`. Records the bundle's `publisher/name` and version first, which
    /// Flower's SuperNodes install it under.
    private func prepare(
        _ flower: FlowerServerApp, app: FlowerAppReference, run: RunID, token: String, in folder: String, process: Process, port: Int,
        limits: ServerAppLimits
    ) async throws {
        guard let bundle = try await handlers.state.flowerApp(hash: app.hash) else { throw CLIError("the run's Flower App Bundle \(app.hash) is not stored") }
        let bundlePath = folder + "/app.fab"
        let tokenPath = folder + "/token"
        for (path, bytes) in [(bundlePath, bundle), (tokenPath, Array(token.utf8))] {
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
                throw CLIError("cannot write '\(path)'")
            }
        }
        let metadata = try await flower.metadata(ofBundleAt: bundlePath, errorPath: folder + "/metadata.log")
        guard metadata.id != BuiltInAppsBundle.id else {
            throw CLIError("the Flower App Bundle calls itself \(metadata.id), the name Pollen keeps for its built-in apps; rename its publisher or project")
        }
        try await handlers.state.setFlowerAppMetadata(run, appID: metadata.id, version: metadata.version)
        let arguments = FlowerPython.appArguments(runtimePort: port, tokenFile: tokenPath)
        if let megabytes = limits.memoryMegabytes {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -d \(megabytes * 1_024) && exec \"$0\" \"$@\"", flower.executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: flower.executable)
            process.arguments = arguments
        }
        try FileManager.default.createDirectory(atPath: folder + "/home", withIntermediateDirectories: false)
        process.environment = FlowerPython.environment(home: folder + "/home")
        // What the researcher's ServerApp prints stays with its run (`push-logs`) and this file, not in the daemon's log.
        guard FileManager.default.createFile(atPath: folder + "/output.log", contents: nil, attributes: [.posixPermissions: 0o600]),
              let output = FileHandle(forWritingAtPath: folder + "/output.log")
        else {
            throw CLIError("cannot create '\(folder)/output.log'")
        }
        process.standardOutput = output
        process.standardError = output
    }
}

/// Where each run's ServerApp runs.
enum ServerAppIsolation: Sendable {
    /// In a process of its own, `executable serverapp` (or `flower`'s, for a Flower App Bundle), talking to the
    /// runtime API on the port `runtime` gives, within `limits`.
    case process(executable: String, runtime: RuntimePort, limits: ServerAppLimits, flower: FlowerServerApp?)
    /// Beside the SuperLink, in its process.
    case none
}

/// What a ServerApp process may take: an operator's guard against a run that would starve the SuperLink's machine.
struct ServerAppLimits: Sendable {
    /// Its memory (data segment) in MiB; `nil` for no limit.
    var memoryMegabytes: Int?
    /// Seconds the run may last before its process is stopped; `nil` for no limit.
    var timeLimitSeconds: Double?
}

extension RunInfo {
    /// The run's configuration as the apps read it.
    var userConfig: UserConfig { UserConfig(uniqueKeysWithValues: config.map { ($0.key, $0.value) }) }
}
