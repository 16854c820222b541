public import Hummingbird
import Foundation
import PollenCore
public import PollenStore
import PollenWire
import SwiftProtobuf

/// The Control API a researcher's `pollen run`, `ls`, `log` and `stop` use: `POST /v1/control/<rpc>` with
/// Flower's Control messages. Runs are created `pending`; the SuperLink's run launcher starts their ServerApp.
///
/// With `accounts`, every call needs `Authorization: Bearer TOKEN` of an account: a researcher submits runs and
/// sees, follows and stops its own; an operator sees and stops every run and lists and registers SuperNodes. Each
/// run records who submitted it, and its log who submitted and who stopped it. Without accounts the API is open to
/// whoever reaches the port.
///
/// `stream-logs` answers once with the lines after `after_timestamp` (`pollen log` polls), or, to a client that
/// accepts Flower's framed stream (`flwr run --stream`, `flwr log`), holds the stream open until the run ends.
public enum ControlRoutes {
    /// Adds the Control routes to `router`.
    ///
    /// - Parameter runsFlowerApps: whether runs of Flower App Bundles (`flwr run`) are taken; without Flower's
    ///   `flwr-serverapp` to run their ServerApps, they are refused with the reason.
    public static func add(to router: Router<BasicRequestContext>, state: any LinkState, accounts: ControlAccounts? = nil, runsFlowerApps: Bool = false) {
        /// `POST /v1/control/<name>`: the caller checked, the body decoded, and the answer (or the error) made into a
        /// response by `respond`.
        func serve<Input: SwiftProtobuf.Message>(
            _ name: String, operatorsOnly: Bool = false, _ respond: @escaping @Sendable (Input, Caller, Request) async throws -> Response
        ) {
            router.post("/v1/control/\(name)") { request, _ -> Response in
                var request = request
                let caller: Caller
                do { caller = try Caller(request, accounts: accounts, operatorsOnly: operatorsOnly, route: name) } catch let error as FleetError {
                    return error.response
                }
                let body = try await request.collectBody(upTo: FleetRoutes.defaultMaximumBodyBytes)
                let input: Input
                do { input = try Input(serializedBytes: Array(buffer: body)) } catch { return FleetError.invalidProtobuf(name, error).response }
                do {
                    return try await respond(input, caller, request)
                } catch let error as StoreError where error.code == .notFound {
                    return FleetError.notFound(error.message).response
                } catch let error as StoreError where error.code == .conflict {
                    return FleetError(status: 409, code: 0, detail: error.message).response
                } catch let error as FleetError {
                    return error.response
                }
            }
        }
        func route<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
            _ name: String, operatorsOnly: Bool = false, _ handler: @escaping @Sendable (Input, Caller) async throws -> Output
        ) {
            serve(name, operatorsOnly: operatorsOnly) { (input: Input, caller, _) in
                let bytes: [UInt8] = try await handler(input, caller).serializedBytes()
                return Response(status: .ok, headers: [.contentType: "application/protobuf"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        /// The run `id`, if `caller` may see it; a run another researcher submitted is as good as absent.
        @Sendable func visibleRun(_ id: RunID, to caller: Caller) async throws -> RunInfo {
            guard let run = try await state.run(id), caller.mayManage(run) else {
                throw FleetError.notFound("run \(id) does not exist" + (caller.account == nil ? "" : " among the runs account '\(caller.name)' may see"))
            }
            return run
        }
        route("start-run") { (request: Flwr_Proto_StartRunRequest, caller) -> Flwr_Proto_StartRunResponse in
            guard request.appSpec.isEmpty else {
                throw FleetError.badRequest(
                    "this Pollen SuperLink takes a Flower app as its bundle (`flwr run ./app`), not as a reference to an app platform ('\(request.appSpec)')"
                )
            }
            // `flwr run` sends its app as a bundle; a run without one is of a built-in app.
            var flowerApp: String?
            if !request.fab.content.isEmpty {
                guard runsFlowerApps else {
                    throw FleetError.badRequest(
                        "this Pollen SuperLink runs Pollen's built-in apps, not Flower App Bundles: its operator can let it run them "
                            + "with Flower 1.42's flwr-serverapp (`pollen superlink --flower-serverapp PATH`, with --isolation process); "
                            + "or submit with `pollen run --app tabular` (or model-transfer), or run the Flower app on a Flower SuperLink"
                    )
                }
                let content = [UInt8](request.fab.content)
                let hash = FlowerObject.hash(ByteBuffer(bytes: content)).rawValue
                guard request.fab.hashStr.isEmpty || request.fab.hashStr.lowercased() == hash else {
                    throw FleetError.badRequest("the app bundle's hash_str \(request.fab.hashStr) is not the SHA-256 of its content (\(hash))")
                }
                flowerApp = try await state.storeFlowerApp(content)
            }
            let config = ConfigRecord(UserConfigProto.decode(request.overrideConfig).sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            let now = Date().timeIntervalSince1970
            let id = try await state.createRun(config: config, owner: caller.name, flowerApp: flowerApp, now: now)
            let what = flowerApp.map { " (Flower App Bundle \($0))" } ?? ""
            if caller.account != nil || flowerApp != nil {
                try await state.appendLog(run: id, line: "submitted" + (caller.account == nil ? "" : " by \(caller.description)") + what, now: now)
            }
            return .with { $0.runID = id.rawValue }
        }
        route("list-runs") { (request: Flwr_Proto_ListRunsRequest, caller) -> Flwr_Proto_ListRunsResponse in
            let runs = try await state.runs().filter { (!request.hasRunID || $0.id.rawValue == request.runID) && caller.mayManage($0) }
            return .with { response in
                for run in runs { response.runDict[run.id.rawValue] = run.proto }
                response.now = ISO8601DateFormatter().string(from: Date())
            }
        }
        route("stop-run") { (request: Flwr_Proto_StopRunRequest, caller) -> Flwr_Proto_StopRunResponse in
            let run = try await visibleRun(RunID(request.runID), to: caller)
            let who = caller.account == nil ? "the researcher" : caller.description
            try await state.setRunStatus(run.id, to: .finished("stopped", details: "stopped by \(who)"))
            if caller.account != nil { try await state.appendLog(run: run.id, line: "stopped by \(who)", now: Date().timeIntervalSince1970) }
            return .with { $0.success = true }
        }
        route("register-node", operatorsOnly: true) { (request: Flwr_Proto_RegisterNodeRequest, _) -> Flwr_Proto_RegisterNodeResponse in
            // Stored in the form the Fleet API compares a signing key in, whichever form the operator had.
            let key: NodePublicKey
            do { key = try NodePublicKey(text: [UInt8](request.publicKey)) } catch { throw FleetError.badRequest("\(error)") }
            let id = try await state.registerNode(publicKey: key.canonical, now: Date().timeIntervalSince1970)
            return .with { $0.nodeID = id.rawValue }
        }
        route("list-nodes", operatorsOnly: true) { (_: Flwr_Proto_ListNodesRequest, _) -> Flwr_Proto_ListNodesResponse in
            let nodes = try await state.nodes(now: Date().timeIntervalSince1970)
            return .with { response in
                response.nodesInfo = nodes.map { node in
                    .with {
                        $0.nodeID = node.id.rawValue
                        $0.status = node.status.rawValue
                        $0.heartbeatInterval = node.heartbeatInterval
                        $0.onlineUntil = node.onlineUntil
                        $0.publicKey = Data(node.publicKey)
                        // Flower's CLI sorts nodes by it (`flwr supernode ls`).
                        $0.registeredAt = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: node.registeredAt))
                    }
                }
                response.now = ISO8601DateFormatter().string(from: Date())
            }
        }
        serve("stream-logs") { (request: Flwr_Proto_StreamLogsRequest, caller, http) -> Response in
            let run = try await visibleRun(RunID(request.runID), to: caller)
            @Sendable func lines(after timestamp: Double) async throws -> Flwr_Proto_StreamLogsResponse {
                let lines = try await state.logs(run: run.id, after: timestamp)
                return .with {
                    $0.logOutput = lines.map { $0.line + "\n" }.joined()
                    $0.latestTimestamp = lines.last?.at ?? timestamp
                }
            }
            guard LogStream.isAccepted(by: http.headers[.accept]) else {
                let bytes: [UInt8] = try await lines(after: request.afterTimestamp).serializedBytes()
                return Response(status: .ok, headers: [.contentType: "application/protobuf"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            }
            return Response(status: .ok, headers: [.contentType: LogStream.mediaType], body: LogStream.body(run: run.id, after: request.afterTimestamp, state: state, lines: lines))
        }
    }

    /// Who calls: an account, or anyone when the SuperLink has no accounts.
    struct Caller: Sendable, CustomStringConvertible {
        let account: ControlAccount?

        /// The caller of `request`, once its token opens an account allowed on `route`; throws 401 or 403 with the
        /// reason otherwise.
        init(_ request: Request, accounts: ControlAccounts?, operatorsOnly: Bool, route: String) throws {
            guard let accounts else {
                account = nil
                return
            }
            // The scheme's name is case-insensitive (RFC 9110).
            guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
                throw FleetError(status: 401, code: 0, detail: "this SuperLink's Control API needs an account: give the CLI its token with --token-file FILE (or token-file in the connection)")
            }
            guard let account = accounts.account(token: header.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)) else {
                throw FleetError(status: 401, code: 0, detail: "the token opens no account on this SuperLink; ask its operator for one")
            }
            guard !operatorsOnly || account.role == .operator else {
                throw FleetError.forbidden("\(route) is for operators; account '\(account.name)' is a \(account.role.rawValue)")
            }
            self.account = account
        }

        /// The owner recorded on the runs this caller submits.
        var name: String { account?.name ?? "" }

        var description: String { account.map { "\($0.name) (\($0.role.rawValue))" } ?? "anyone" }

        func mayManage(_ run: RunInfo) -> Bool {
            account?.mayManage(runOwnedBy: run.owner) ?? true
        }
    }
}
