public import ArgumentParser
import Foundation
import PollenApps
import PollenCore
import PollenWire
import SwiftProtobuf

/// `pollen run`: submits a run of a built-in app to a SuperLink.
public struct RunCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Submit a run of a built-in app to a SuperLink; --stream follows it to the end.",
        discussion: """
            Apps: tabular (the default: federated training on each site's CSV data; its settings are the [app.config] \
            keys of a pollen.toml, e.g. --run-config num-server-rounds=10 --run-config model=mlp) and model-transfer \
            (a large model to every node and back: --run-config model-parameters=25000000 --run-config num-server-rounds=3).
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The built-in app to run: \(BuiltInApp.allCases.map(\.rawValue).joined(separator: " or ")).") var app = BuiltInApp.tabular.rawValue
    @Option(help: "A pollen.toml whose [app.config] table sets the run.") var config: String?
    @Option(name: .long, parsing: .singleValue, help: "A run setting key=value (repeatable).") var runConfig: [String] = []
    @Flag(help: "Follow the run's log until it finishes; exit non-zero if it fails.") var stream = false

    public init() {}

    public func run() async throws {
        var overrides = UserConfig()
        for assignment in runConfig {
            let (key, value) = try TOMLConfig.override(assignment)
            overrides[key] = value
        }
        let runConfig: UserConfig
        switch try BuiltInApp(runConfig: [BuiltInApp.configKey: .string(app)]) {
        case .tabular:
            var settings = try SimulationSettings.load(path: config)
            try settings.apply(app: overrides, simulation: [:], source: "the command line")
            _ = try settings.appConfig()
            runConfig = settings.runConfig
        case .modelTransfer:
            guard config == nil else { throw CLIError("--config reads a tabular pollen.toml; give the model-transfer app its settings with --run-config") }
            overrides[BuiltInApp.configKey] = .string(app)
            _ = try ModelTransferConfig(runConfig: overrides)
            runConfig = overrides
        }
        let stream = stream
        try await connection.withClient { client in
            let started = try await client.call("start-run", Flwr_Proto_StartRunRequest.with {
                $0.overrideConfig = UserConfigProto.encode(runConfig)
            }, as: Flwr_Proto_StartRunResponse.self)
            Daemon.announce("run \(started.runID) submitted")
            guard stream else { return }
            let status = try await LogCommand.follow(run: started.runID, client: client)
            guard status.subStatus == "completed" else {
                throw CLIError("run \(started.runID) \(status.status) \(status.subStatus): \(status.details)")
            }
        }
    }
}

/// `pollen ls`: the runs a SuperLink knows.
public struct ListCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the runs of a SuperLink.")
    @OptionGroup var connection: ConnectionOptions
    public init() {}

    public func run() async throws {
        let runs = try await connection.withClient { try await $0.call("list-runs", Flwr_Proto_ListRunsRequest(), as: Flwr_Proto_ListRunsResponse.self) }
        print("run-id                status     sub-status  details")
        for (id, run) in runs.runDict.sorted(by: { $0.key < $1.key }) {
            print("\(String(id).padding(toLength: 21, withPad: " ", startingAt: 0)) \(run.status.status.padding(toLength: 10, withPad: " ", startingAt: 0)) \(run.status.subStatus.padding(toLength: 11, withPad: " ", startingAt: 0)) \(run.status.details)")
        }
    }
}

/// `pollen log RUN`: a run's log.
public struct LogCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "log", abstract: "Print a run's log; --stream follows it.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The run id.") var runID: UInt64
    @Flag(help: "Follow the log until the run finishes.") var stream = false
    public init() {}

    public func run() async throws {
        let (runID, stream) = (runID, stream)
        try await connection.withClient { client in
            if stream {
                _ = try await Self.follow(run: runID, client: client)
            } else {
                let logs = try await client.call("stream-logs", Flwr_Proto_StreamLogsRequest.with { $0.runID = runID }, as: Flwr_Proto_StreamLogsResponse.self)
                print(logs.logOutput, terminator: "")
            }
        }
    }

    /// Prints new log lines until the run finishes; returns its final status.
    static func follow(run: UInt64, client: ControlClient) async throws -> Flwr_Proto_RunStatus {
        var after = 0.0
        while true {
            let logs = try await client.call("stream-logs", Flwr_Proto_StreamLogsRequest.with {
                $0.runID = run
                $0.afterTimestamp = after
            }, as: Flwr_Proto_StreamLogsResponse.self)
            if !logs.logOutput.isEmpty {
                print(logs.logOutput, terminator: "")
                fflush(nil)
            }
            after = logs.latestTimestamp
            let runs = try await client.call("list-runs", Flwr_Proto_ListRunsRequest.with { $0.runID = run }, as: Flwr_Proto_ListRunsResponse.self)
            guard let status = runs.runDict[run]?.status else { throw CLIError("the SuperLink has no run \(run)") }
            if status.status == "finished" {
                let tail = try await client.call("stream-logs", Flwr_Proto_StreamLogsRequest.with {
                    $0.runID = run
                    $0.afterTimestamp = after
                }, as: Flwr_Proto_StreamLogsResponse.self)
                print(tail.logOutput, terminator: "")
                return status
            }
            try await Task.sleep(for: .seconds(0.25))
        }
    }
}

/// `pollen stop RUN`: stops a run.
public struct StopCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a run.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The run id.") var runID: UInt64
    public init() {}

    public func run() async throws {
        let runID = runID
        _ = try await connection.withClient {
            try await $0.call("stop-run", Flwr_Proto_StopRunRequest.with { $0.runID = runID }, as: Flwr_Proto_StopRunResponse.self)
        }
        print("run \(runID) stopped")
    }
}

/// `pollen nodes`: the SuperNodes a SuperLink knows (Flower's `flwr supernode ls`), and `--register KEY` for an
/// operator admitting a node to a SuperLink started with `--require-known-nodes` (Flower's `flwr supernode register`).
public struct NodesCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "nodes", abstract: "List the SuperNodes of a SuperLink, or register one.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Register the node whose public key is in this file, PEM or OpenSSH (for --require-known-nodes).") var register: String?
    public init() {}

    public func run() async throws {
        if let register {
            guard let key = FileManager.default.contents(atPath: register) else {
                throw CLIError("cannot read the public key file '\(register)'")
            }
            let response = try await connection.withClient {
                try await $0.call("register-node", Flwr_Proto_RegisterNodeRequest.with { $0.publicKey = key }, as: Flwr_Proto_RegisterNodeResponse.self)
            }
            print("registered node \(response.nodeID)")
            return
        }
        let nodes = try await connection.withClient { try await $0.call("list-nodes", Flwr_Proto_ListNodesRequest(), as: Flwr_Proto_ListNodesResponse.self) }
        print("node-id               status")
        for node in nodes.nodesInfo {
            print("\(String(node.nodeID).padding(toLength: 21, withPad: " ", startingAt: 0)) \(node.status)")
        }
    }
}
