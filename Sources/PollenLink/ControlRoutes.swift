public import Hummingbird
import Foundation
import PollenCore
public import PollenStore
import PollenWire
import SwiftProtobuf

/// The Control API a researcher's `pollen run`, `ls`, `log` and `stop` use: `POST /v1/control/<rpc>` with
/// Flower's Control messages. Runs are created `pending`; the SuperLink's run launcher starts their ServerApp.
///
/// `stream-logs` answers once with the lines after `after_timestamp` (clients poll) rather than holding a
/// framed stream open as Flower's does.
public enum ControlRoutes {
    /// Adds the Control routes to `router`.
    public static func add(to router: Router<BasicRequestContext>, state: any LinkState) {
        func route<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
            _ name: String, _ handler: @escaping @Sendable (Input) async throws -> Output
        ) {
            router.post("/v1/control/\(name)") { request, _ -> Response in
                var request = request
                let body = try await request.collectBody(upTo: FleetRoutes.defaultMaximumBodyBytes)
                let input: Input
                do { input = try Input(serializedBytes: Array(buffer: body)) } catch { return FleetError.invalidProtobuf(name, error).response }
                do {
                    let bytes: [UInt8] = try await handler(input).serializedBytes()
                    return Response(status: .ok, headers: [.contentType: "application/protobuf"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
                } catch let error as StoreError where error.code == .notFound {
                    return FleetError.notFound(error.message).response
                } catch let error as StoreError where error.code == .conflict {
                    return FleetError(status: 409, code: 0, detail: error.message).response
                } catch let error as FleetError {
                    return error.response
                }
            }
        }
        route("start-run") { (request: Flwr_Proto_StartRunRequest) -> Flwr_Proto_StartRunResponse in
            // `flwr run` sends its app as a bundle; taking the run would start Pollen's default app in its place.
            guard request.fab.content.isEmpty, request.appSpec.isEmpty else {
                throw FleetError.badRequest(
                    "this Pollen SuperLink runs Pollen's built-in apps, not Flower App Bundles: submit with `pollen run --app tabular` "
                        + "(or model-transfer), or run the Flower app on a Flower SuperLink"
                )
            }
            let config = ConfigRecord(UserConfigProto.decode(request.overrideConfig).sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            let id = try await state.createRun(config: config, now: Date().timeIntervalSince1970)
            return .with { $0.runID = id.rawValue }
        }
        route("list-runs") { (request: Flwr_Proto_ListRunsRequest) -> Flwr_Proto_ListRunsResponse in
            let runs = try await state.runs().filter { !request.hasRunID || $0.id.rawValue == request.runID }
            return .with { response in
                for run in runs { response.runDict[run.id.rawValue] = run.proto }
                response.now = ISO8601DateFormatter().string(from: Date())
            }
        }
        route("stop-run") { (request: Flwr_Proto_StopRunRequest) -> Flwr_Proto_StopRunResponse in
            try await state.setRunStatus(RunID(request.runID), to: .finished("stopped", details: "stopped by the researcher"))
            return .with { $0.success = true }
        }
        route("register-node") { (request: Flwr_Proto_RegisterNodeRequest) -> Flwr_Proto_RegisterNodeResponse in
            // Stored in the form the Fleet API compares a signing key in, whichever form the operator had.
            let key: NodePublicKey
            do { key = try NodePublicKey(text: [UInt8](request.publicKey)) } catch { throw FleetError.badRequest("\(error)") }
            let id = try await state.registerNode(publicKey: key.canonical, now: Date().timeIntervalSince1970)
            return .with { $0.nodeID = id.rawValue }
        }
        route("list-nodes") { (_: Flwr_Proto_ListNodesRequest) -> Flwr_Proto_ListNodesResponse in
            let nodes = try await state.nodes(now: Date().timeIntervalSince1970)
            return .with { response in
                response.nodesInfo = nodes.map { node in
                    .with {
                        $0.nodeID = node.id.rawValue
                        $0.status = node.status.rawValue
                        $0.heartbeatInterval = node.heartbeatInterval
                        $0.onlineUntil = node.onlineUntil
                        $0.publicKey = Data(node.publicKey)
                    }
                }
                response.now = ISO8601DateFormatter().string(from: Date())
            }
        }
        route("stream-logs") { (request: Flwr_Proto_StreamLogsRequest) -> Flwr_Proto_StreamLogsResponse in
            let lines = try await state.logs(run: RunID(request.runID), after: request.afterTimestamp)
            return .with {
                $0.logOutput = lines.map { $0.line + "\n" }.joined()
                $0.latestTimestamp = lines.last?.at ?? request.afterTimestamp
            }
        }
    }
}
