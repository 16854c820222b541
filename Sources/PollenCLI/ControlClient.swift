import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PollenWire
import SwiftProtobuf

/// The researcher's side of the Control API: `POST /v1/control/<rpc>` to a SuperLink.
struct ControlClient: Sendable {
    let baseURL: String

    func call<Output: SwiftProtobuf.Message>(_ route: String, _ input: some SwiftProtobuf.Message, as: Output.Type = Output.self) async throws -> Output {
        var request = HTTPClientRequest(url: "\(baseURL)/v1/control/\(route)")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/protobuf")
        request.body = .bytes(ByteBuffer(bytes: try input.serializedBytes() as [UInt8]))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            throw CLIError("cannot reach the SuperLink at \(baseURL): \(error); is `pollen superlink` running there?")
        }
        let body = try await response.body.collect(upTo: 16 * 1_024 * 1_024)
        guard response.status == .ok else {
            throw CLIError("the SuperLink refused \(route) (HTTP \(response.status.code)): \(String(buffer: body))")
        }
        return try Output(serializedBytes: Array(buffer: body))
    }
}

/// Options every Control API command shares.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The SuperLink's HOST:PORT.") var superlink = "127.0.0.1:9092"
    @Flag(help: "Connect over plain HTTP. Required: TLS is not implemented yet.") var insecure = false

    func client() throws -> ControlClient {
        guard insecure else {
            throw ValidationError("TLS is not implemented yet; pass --insecure to talk to a SuperLink over plain HTTP")
        }
        return ControlClient(baseURL: "http://\(superlink)")
    }
}

import ArgumentParser
