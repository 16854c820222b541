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

/// The Control API of a SuperLink with accounts: who may call what, and what each sees.
struct ControlAccountsTests {
    static let accounts = ControlAccounts([
        (ControlAccounts.sha256(of: "alice-token"), ControlAccount(name: "alice", role: .researcher)),
        (ControlAccounts.sha256(of: "bob-token"), ControlAccount(name: "bob", role: .researcher)),
        (ControlAccounts.sha256(of: "ops-token"), ControlAccount(name: "ops", role: .operator)),
    ])

    /// Calls `route` with `token` (none when `nil`); the status, the decoded answer, and the reason of a refusal.
    func call<Output: SwiftProtobuf.Message>(
        _ client: some TestClientProtocol, _ route: String, _ input: some SwiftProtobuf.Message, token: String?,
        as: Output.Type = Output.self
    ) async throws -> Call<Output> {
        var headers = HTTPFields()
        headers[.contentType] = "application/protobuf"
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await post(client, route, body: ByteBuffer(bytes: try input.serializedBytes() as [UInt8]), headers: headers, api: "control")
    }

    @Test func researchersSeeAndStopTheirOwnRunsAndOperatorsEveryRunAndTheNodes() async throws {
        let handlers = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        let app = Application(router: SuperLink.router(handlers: handlers, controlAccounts: Self.accounts))
        try await app.test(.router) { client in
            let list = Flwr_Proto_ListRunsRequest()
            // No token, or one that opens no account: 401 with what to do.
            let anonymous = try await call(client, "list-runs", list, token: nil, as: Flwr_Proto_ListRunsResponse.self)
            #expect(anonymous.status == .unauthorized && anonymous.reason.contains("--token-file"), "\(anonymous.reason)")
            let forged = try await call(client, "list-runs", list, token: "guess", as: Flwr_Proto_ListRunsResponse.self)
            #expect(forged.status == .unauthorized && forged.reason.contains("opens no account"), "\(forged.reason)")

            let start = Flwr_Proto_StartRunRequest.with { $0.overrideConfig = UserConfigProto.encode(["num-server-rounds": .int(1)]) }
            let alicesRun = try #require(try await call(client, "start-run", start, token: "alice-token", as: Flwr_Proto_StartRunResponse.self).output?.runID)
            let bobsRun = try #require(try await call(client, "start-run", start, token: "bob-token", as: Flwr_Proto_StartRunResponse.self).output?.runID)
            #expect(try await handlers.state.run(RunID(alicesRun))?.owner == "alice")

            // Each researcher sees its own run only; the operator both.
            func visible(to token: String) async throws -> Set<UInt64> {
                Set(try await call(client, "list-runs", list, token: token, as: Flwr_Proto_ListRunsResponse.self).output?.runDict.keys ?? [:].keys)
            }
            #expect(try await visible(to: "alice-token") == [alicesRun])
            #expect(try await visible(to: "bob-token") == [bobsRun])
            #expect(try await visible(to: "ops-token") == [alicesRun, bobsRun])

            // Bob can neither read nor stop Alice's run: for him it does not exist.
            let logs = Flwr_Proto_StreamLogsRequest.with { $0.runID = alicesRun }
            let peek = try await call(client, "stream-logs", logs, token: "bob-token", as: Flwr_Proto_StreamLogsResponse.self)
            #expect(peek.status == .notFound, "\(peek.reason)")
            let stopAlices = Flwr_Proto_StopRunRequest.with { $0.runID = alicesRun }
            #expect(try await call(client, "stop-run", stopAlices, token: "bob-token", as: Flwr_Proto_StopRunResponse.self).status == .notFound)
            #expect(try await handlers.state.run(RunID(alicesRun))?.status == .pending)
            // The operator can; the run's log says who submitted and who stopped it.
            #expect(try await call(client, "stop-run", stopAlices, token: "ops-token", as: Flwr_Proto_StopRunResponse.self).status == .ok)
            #expect(try await handlers.state.run(RunID(alicesRun))?.status.details == "stopped by ops (operator)")
            let trail = try await call(client, "stream-logs", logs, token: "alice-token", as: Flwr_Proto_StreamLogsResponse.self)
            #expect(trail.output?.logOutput == "submitted by alice (researcher)\nstopped by ops (operator)\n")

            // SuperNodes are the operator's.
            let nodes = try await call(client, "list-nodes", Flwr_Proto_ListNodesRequest(), token: "alice-token", as: Flwr_Proto_ListNodesResponse.self)
            #expect(nodes.status == .forbidden && nodes.reason.contains("list-nodes is for operators"), "\(nodes.reason)")
            #expect(try await call(client, "list-nodes", Flwr_Proto_ListNodesRequest(), token: "ops-token", as: Flwr_Proto_ListNodesResponse.self).status == .ok)
        }
    }

    @Test func withoutAccountsTheControlAPIIsOpen() async throws {
        let (app, _) = try makeSuperLink()
        try await app.test(.router) { client in
            let started = try await call(client, "start-run", Flwr_Proto_StartRunRequest(), token: nil, as: Flwr_Proto_StartRunResponse.self)
            #expect(started.status == .ok)
            let runs = try await call(client, "list-runs", Flwr_Proto_ListRunsRequest(), token: nil, as: Flwr_Proto_ListRunsResponse.self)
            #expect(runs.output?.runDict.count == 1)
        }
    }
}

/// `GET /metrics`: the SuperLink's requests and state in Prometheus's text format, for operators only.
struct SuperLinkMetricsTests {
    @Test func anOperatorScrapesRequestsNodesRunsAndObjects() async throws {
        let handlers = try SuperLink.handlers(configuration: SuperLinkConfiguration(databasePath: SQLiteDatabase.inMemoryPath))
        let app = Application(router: SuperLink.router(handlers: handlers, controlAccounts: ControlAccountsTests.accounts))
        try await app.test(.router) { client in
            func scrape(_ token: String?) async throws -> (status: HTTPResponse.Status, text: String) {
                var headers = HTTPFields()
                // The scheme's name in any case, as HTTP allows.
                if let token { headers[.authorization] = "bearer \(token)" }
                return try await client.execute(uri: "/metrics", method: .get, headers: headers) { ($0.status, String(buffer: $0.body)) }
            }
            #expect(try await scrape(nil).status == .unauthorized)
            #expect(try await scrape("alice-token").status == .forbidden)

            let node = TestNode()
            _ = try await connect(node, client)
            var headers = HTTPFields()
            headers[.contentType] = "application/protobuf"
            headers[.authorization] = "Bearer alice-token"
            let started: Call<Flwr_Proto_StartRunResponse> = try await post(
                client, "start-run", body: ByteBuffer(bytes: try Flwr_Proto_StartRunRequest().serializedBytes() as [UInt8]), headers: headers, api: "control"
            )
            #expect(started.status == .ok)

            let (status, text) = try await scrape("ops-token")
            #expect(status == .ok)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"pollen_nodes{status="online"} 1.0"#), "\(text)")
            #expect(lines.contains(#"pollen_runs{phase="pending"} 1.0"#), "\(text)")
            #expect(lines.contains("pollen_objects 0.0"), "\(text)")
            #expect(lines.contains { $0.hasPrefix("hb_requests{") && $0.contains("/v1/fleet/activate-node") }, "\(text)")
            #expect(lines.contains { $0.hasPrefix("http_server_request_duration_bucket{") }, "\(text)")
        }
    }
}
