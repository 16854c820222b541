public import ArgumentParser
import AsyncHTTPClient
import Foundation
import PollenCore
import PollenWire
import SwiftProtobuf

/// `pollen serverapp`: the process a SuperLink starts for each run's ServerApp (not for people to run). It reads
/// the run, drives it through the SuperLink's app runtime API, and reports how it ended.
public struct ServerAppCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serverapp",
        abstract: "Run one run's ServerApp against a SuperLink's app runtime API (started by `pollen superlink`).",
        shouldDisplay: false
    )

    /// The environment variable carrying the run's token.
    static let tokenVariable = "POLLEN_TASK_TOKEN"

    @Option(help: "The SuperLink's app runtime API: http://127.0.0.1:PORT.") var runtimeApi: String
    @Option(help: "The most memory (data segment) this process may use, in MiB.") var memoryLimitMb: Int?

    public init() {}

    public func run() async throws {
        guard let token = ProcessInfo.processInfo.environment[Self.tokenVariable], !token.isEmpty else {
            throw CLIError("pollen serverapp is started by `pollen superlink`, which gives it the run's token in \(Self.tokenVariable)")
        }
        if let memoryLimitMb { try MemoryLimit.apply(megabytes: memoryLimitMb) }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await serve(RuntimeClient(baseURL: runtimeApi, token: token, http: http))
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func serve(_ client: RuntimeClient) async throws {
        let input = try await client.call("pull-task-input", Flwr_Proto_PullTaskInputRequest(), as: Flwr_Proto_PullTaskInputResponse.self)
        let runID = RunID(input.run.runID)
        let log = RunLog { line in
            _ = try? await client.call("push-logs", Flwr_Proto_PushLogsRequest.with {
                $0.runID = runID.rawValue
                $0.logs = [line]
            }, as: Flwr_Proto_PushLogsResponse.self)
        }
        let output: Flwr_Proto_PushTaskOutputRequest
        do {
            let grid = RuntimeGrid(runID: runID, client: client)
            let details = try await BuiltInServerApps.run(runID, runConfig: UserConfigProto.decode(input.run.overrideConfig), grid: grid, log: log)
            output = .with { $0.subStatus = "completed"; $0.details = details }
        } catch {
            output = .with { $0.subStatus = "failed"; $0.details = "\(error)" }
        }
        _ = try await client.call("push-task-output", output, as: Flwr_Proto_PushTaskOutputResponse.self)
    }
}

/// The port of the SuperLink's app runtime API, known once its server listens.
actor RuntimePort {
    private var port: Int?

    func set(_ port: Int) { self.port = port }

    /// The port, waiting for the server to listen.
    func value() async throws -> Int {
        while true {
            if let port { return port }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
