import Foundation
import PollenCore
import PollenNode
import PollenWire
import SwiftProtobuf
import Synchronization

/// Runs the messages of runs of researchers' Flower App Bundles with Flower's `flwr-clientapp`, one process per
/// message as Flower's SuperNode does, on a node whose custodian allowed it (`pollen supernode --flower-clientapp`):
/// the process installs the bundle, runs its Python ClientApp and exchanges the message, the reply and the
/// node's context with this node over `ClientAppRuntime`, holding a token that opens that message only. It gets
/// the run's settings fused with the bundle's defaults (by Flower's own code), `FLWR_HOME` in the node's private
/// folder, a short environment with no telemetry, and the node's ClientApp time and memory limits; a process that
/// fails, outlives its limit or pushes no reply is a failure reply saying so. The researcher's code runs as the
/// node's user and reads what it reads, which is why a custodian turns this on explicitly.
struct FlowerClientAppProcess: FlowerClientAppRunner {
    /// Flower's `flwr-clientapp`.
    let executable: String
    let runtime: ClientAppRuntime
    let timeLimitSeconds: Double
    let memoryLimitMegabytes: Int?
    /// A private folder (mode 0700) for tokens, logs and `FLWR_HOME`, removed when the node stops.
    let folder: String
    /// Each run's settings fused with its bundle's defaults, by run id.
    private let fusedConfigs = FusedConfigs()

    func handle(_ message: consuming PollenCore.Message, context: inout Context, run: Flwr_Proto_Run, bundle: [UInt8]) async -> PollenCore.Message {
        let question = PollenCore.Message(metadata: message.metadata, body: .content(RecordDict()))
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let taskFolder = "\(folder)/task-\(UUID().uuidString)"
        defer {
            runtime.close(token)
            try? FileManager.default.removeItem(atPath: taskFolder)
        }
        do {
            try FileManager.default.createDirectory(atPath: taskFolder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            let runConfig = try await fusedConfig(of: run, bundle: bundle, in: taskFolder)
            let state = context.state
            let task = FlowerClientAppTask(input: .with {
                $0.context = .with { proto in
                    proto.runID = run.runID
                    proto.nodeID = context.nodeID.rawValue
                    proto.nodeConfig = UserConfigProto.encode(context.nodeConfig)
                    proto.state = state.proto
                    proto.runConfig = runConfig
                }
                $0.run = run
                $0.fab = .with {
                    $0.hashStr = run.fabHash
                    $0.content = Data(bundle)
                }
            }, instruction: try MessageCodec.encode(consume message))
            runtime.open(task, token: token)
            let (process, log) = try await start(token: token, in: taskFolder)
            let timedOut = try await ChildProcess.run(process, timeLimitSeconds: timeLimitSeconds)
            if timedOut {
                throw CLIError("the Flower ClientApp took longer than its time limit of \(timeLimitSeconds) s and was stopped")
            }
            guard let reply = try await task.reply() else {
                let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "crashed with signal \(process.terminationStatus)"
                let memory = memoryLimitMegabytes.map { " (its memory limit is \($0) MiB)" } ?? ""
                throw CLIError("the Flower ClientApp process \(how)\(memory) without a reply\(IsolatedClientApp.lastLines(of: log))")
            }
            if let output = await task.output, output.hasContext { context.state = try RecordDict(proto: output.context.state) }
            // Only the reply's body comes from the process: what it answers, and for whom, is the instruction's.
            switch reply.body {
            case .content(let content): return question.reply(content: content)
            case .error(let error): return question.reply(error: error)
            }
        } catch {
            return question.reply(error: MessageError(code: .clientAppRaisedException, reason: "\(error)"))
        }
    }

    /// Starts `flwr-clientapp` for the task `token` opens; returns it and the file its output goes to.
    private func start(token: String, in taskFolder: String) async throws -> (Process, String) {
        let port = try await runtime.port.value()
        let tokenPath = taskFolder + "/token"
        let logPath = taskFolder + "/output.log"
        guard FileManager.default.createFile(atPath: tokenPath, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: logPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              let log = FileHandle(forWritingAtPath: logPath)
        else {
            throw CLIError("cannot write the Flower ClientApp's files in '\(taskFolder)'")
        }
        let process = Process()
        let arguments = FlowerPython.appArguments(runtimePort: port, tokenFile: tokenPath)
        if let megabytes = memoryLimitMegabytes {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -d \(megabytes * 1_024) && exec \"$0\" \"$@\"", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.environment = FlowerPython.environment(home: folder + "/home")
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        return (process, logPath)
    }

    /// The run's settings over the bundle's declared defaults, as Flower's SuperNode gives its ClientApps
    /// (`get_fused_config_from_fab`); read once per run.
    private func fusedConfig(of run: Flwr_Proto_Run, bundle: [UInt8], in taskFolder: String) async throws -> [String: Flwr_Proto_Scalar] {
        if let known = fusedConfigs.config(of: run.runID) { return known }
        let bundlePath = taskFolder + "/app.fab"
        // The run's settings go in a file, not on the command line, which other users can list.
        let runPath = taskFolder + "/run.pb"
        for (path, bytes) in [(bundlePath, bundle), (runPath, try run.serializedBytes() as [UInt8])] {
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
                throw CLIError("cannot write '\(path)'")
            }
        }
        let hex = try await FlowerPython(script: executable).evaluate(
            """
            import sys
            from flwr.common.config import get_fused_config_from_fab
            from flwr.common.serde import run_from_proto, user_config_to_proto
            from flwr.proto.run_pb2 import Run
            run = Run.FromString(open(sys.argv[2], "rb").read())
            fused = Run()
            for key, value in user_config_to_proto(get_fused_config_from_fab(open(sys.argv[1], "rb").read(), run_from_proto(run))).items():
                fused.override_config[key].CopyFrom(value)
            print(fused.SerializeToString().hex())
            """,
            arguments: [bundlePath, runPath], errorPath: taskFolder + "/config.log", what: "fusing the run's settings with its Flower App Bundle's"
        )
        let bytes = try Self.bytes(hex: hex.trimmingCharacters(in: .whitespacesAndNewlines))
        let config = try Flwr_Proto_Run(serializedBytes: bytes).overrideConfig
        fusedConfigs.set(config, for: run.runID)
        return config
    }

    private static func bytes(hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { throw CLIError("Flower printed no settings: '\(hex)'") }
        return try stride(from: 0, to: digits.count, by: 2).map { index in
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                throw CLIError("Flower printed no settings: '\(hex.prefix(80))'")
            }
            return byte
        }
    }
}

/// Fused run settings by run id, shared by every copy of a `FlowerClientAppProcess`; the last `capacity` runs'
/// only, so that a long-lived node does not keep every run's.
private final class FusedConfigs: Sendable {
    private let configs = Mutex<[(run: UInt64, config: [String: Flwr_Proto_Scalar])]>([])
    private static let capacity = 16
    func config(of run: UInt64) -> [String: Flwr_Proto_Scalar]? { configs.withLock { $0.first { $0.run == run }?.config } }
    func set(_ config: [String: Flwr_Proto_Scalar], for run: UInt64) {
        configs.withLock { configs in
            configs.removeAll { $0.run == run }
            configs.append((run, config))
            if configs.count > Self.capacity { configs.removeFirst(configs.count - Self.capacity) }
        }
    }
}
