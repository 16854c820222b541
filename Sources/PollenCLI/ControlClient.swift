import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PollenWire
import SwiftProtobuf

/// The researcher's side of the Control API: `POST /v1/control/<rpc>` to a SuperLink.
struct ControlClient: Sendable {
    let baseURL: String
    let http: HTTPClient

    func call<Output: SwiftProtobuf.Message>(_ route: String, _ input: some SwiftProtobuf.Message, as: Output.Type = Output.self) async throws -> Output {
        var request = HTTPClientRequest(url: "\(baseURL)/v1/control/\(route)")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/protobuf")
        request.body = .bytes(ByteBuffer(bytes: try input.serializedBytes() as [UInt8]))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
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
    @Flag(help: "Connect over plain HTTP instead of HTTPS.") var insecure = false
    @Option(help: "A PEM file of the CA certificates to trust for the SuperLink (default: the system's).") var rootCertificates: String?

    /// Runs `body` with a client for the SuperLink, closing its connections afterwards.
    func withClient<T>(_ body: (ControlClient) async throws -> T) async throws -> T {
        let http = insecure ? HTTPClient(eventLoopGroupProvider: .singleton) : try TLSSettings.client(rootCertificates: rootCertificates)
        let client = ControlClient(baseURL: "\(insecure ? "http" : "https")://\(superlink)", http: http)
        do {
            let result = try await body(client)
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}

import ArgumentParser
