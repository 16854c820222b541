import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PollenCore
import PollenLink
import PollenStore
import PollenWire
import SwiftProtobuf
import Testing

/// Runs of Flower App Bundles (`flwr run`) through the Control API: taken only by a SuperLink that can run their
/// ServerApps, stored under their SHA-256, served to the run's nodes (`get-run`, `get-fab`) and to its ServerApp
/// process (`pull-task-input`).
@Suite struct FlowerAppRunsTests {
    static let bundle = Array("PK\u{3}\u{4} a Flower App Bundle".utf8)
    static let hash = FlowerObject.hash(ByteBuffer(bytes: bundle)).rawValue

    func startRun(_ client: some TestClientProtocol, hash: String = hash) async throws -> Call<Flwr_Proto_StartRunResponse> {
        let request = Flwr_Proto_StartRunRequest.with {
            $0.fab.content = Data(Self.bundle)
            $0.fab.hashStr = hash
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/protobuf"
        return try await post(client, "start-run", body: ByteBuffer(bytes: try request.serializedBytes() as [UInt8]), headers: headers, api: "control")
    }

    @Test func aSuperLinkWithoutFlowersServerAppRefusesTheRunWithTheReason() async throws {
        let handlers = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        try await Application(router: SuperLink.router(handlers: handlers)).test(.router) { client in
            let refused = try await startRun(client)
            #expect(refused.status == .badRequest)
            #expect(refused.reason.contains("runs Pollen's built-in apps, not Flower App Bundles"), "\(refused.reason)")
            #expect(refused.reason.contains("--flower-serverapp"), "\(refused.reason)")
            #expect(try await handlers.state.runs().isEmpty)
        }
    }

    @Test func theBundleIsStoredAndServedToTheRunsNodesAndServerApp() async throws {
        let handlers = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        try await Application(router: SuperLink.router(handlers: handlers, runsFlowerApps: true)).test(.router) { client in
            let forged = try await startRun(client, hash: String(repeating: "ab", count: 32))
            #expect(forged.status == .badRequest && forged.reason.contains("not the SHA-256 of its content"), "\(forged.reason)")
            #expect(try await handlers.state.runs().isEmpty)

            let run = RunID(try #require(try await startRun(client).output?.runID))
            #expect(try await handlers.state.run(run)?.flowerApp == FlowerAppReference(hash: Self.hash))
            try await handlers.state.setFlowerAppMetadata(run, appID: "pollenbench/transferbench", version: "1.0.0")
            try await handlers.state.setRunStatus(run, to: .running)

            // A node of the run learns which bundle to install, and fetches it.
            let node = TestNode()
            let id = try await connect(node, client)
            let described = try await post(client, "get-run", Flwr_Proto_GetRunRequest.with {
                $0.node = .with { $0.nodeID = id }
                $0.runID = run.rawValue
            }, as: node, expecting: Flwr_Proto_GetRunResponse.self)
            #expect(described.output?.run.fabHash == Self.hash)
            #expect(described.output?.run.fabID == "pollenbench/transferbench" && described.output?.run.fabVersion == "1.0.0")
            let fetched = try await post(client, "get-fab", Flwr_Proto_GetFabRequest.with {
                $0.node = .with { $0.nodeID = id }
                $0.runID = run.rawValue
                $0.hashStr = Self.hash
            }, as: node, expecting: Flwr_Proto_GetFabResponse.self)
            #expect(fetched.output.map { Array($0.fab.content) } == Self.bundle)

            // Its ServerApp process gets the bundle, and speaks for the SuperLink (node 1).
            let input = try await RuntimeHandlers(fleet: handlers).pullTaskInput(Flwr_Proto_PullTaskInputRequest(), run: run)
            #expect(Array(input.fab.content) == Self.bundle && input.fab.hashStr == Self.hash)
            #expect(input.context.nodeID == NodeID.superLink.rawValue && input.run.runID == run.rawValue)
            #expect(try await RuntimeHandlers(fleet: handlers).sendTaskHeartbeat(.init(), run: run).success)
            try await handlers.state.setRunStatus(run, to: .finished("stopped"))
            #expect(try await RuntimeHandlers(fleet: handlers).sendTaskHeartbeat(.init(), run: run).success == false)
        }
    }

    /// `flwr run --stream` and `flwr log` accept Flower's framed stream: `stream-logs` sends each batch of lines after
    /// its 4-byte length as they come, and ends once the run has finished; `pollen log` gets one answer.
    @Test func theLogStreamsInFlowersFramesUntilTheRunEnds() async throws {
        let handlers = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        let run = try await handlers.state.createRun(config: [:], now: 1)
        try await handlers.state.setRunStatus(run, to: .running)
        try await handlers.state.appendLog(run: run, line: "round 1", now: 2)
        try await Application(router: SuperLink.router(handlers: handlers)).test(.router) { client in
            let request = ByteBuffer(bytes: try Flwr_Proto_StreamLogsRequest.with { $0.runID = run.rawValue }.serializedBytes() as [UInt8])
            var headers: HTTPFields = [.contentType: "application/protobuf"]
            let once: Call<Flwr_Proto_StreamLogsResponse> = try await post(client, "stream-logs", body: request, headers: headers, api: "control")
            #expect(once.output?.logOutput == "round 1\n")

            let ending = Task {
                try await Task.sleep(for: .milliseconds(700))
                try await handlers.state.appendLog(run: run, line: "round 2", now: 3)
                try await handlers.state.setRunStatus(run, to: .finished("completed"))
            }
            headers[.accept] = "application/flower-protobuf-stream"
            let streamed = try await client.execute(uri: "/v1/control/stream-logs", method: .post, headers: headers, body: request) { response in
                #expect(response.headers[.contentType] == "application/flower-protobuf-stream")
                var body = response.body
                var frames = [String]()
                while let length = body.readInteger(endianness: .big, as: UInt32.self) {
                    let payload = body.readBytes(length: Int(length)) ?? []
                    #expect(payload.count == Int(length), "a frame is cut short")
                    frames.append(try Flwr_Proto_StreamLogsResponse(serializedBytes: payload).logOutput)
                }
                #expect(body.readableBytes == 0)
                return frames
            }
            try await ending.value
            #expect(streamed == ["round 1\n", "round 2\n"])
        }
    }
}
