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
    /// The account's bearer token, for a SuperLink with accounts.
    var token: String?

    func call<Output: SwiftProtobuf.Message>(_ route: String, _ input: some SwiftProtobuf.Message, as: Output.Type = Output.self) async throws -> Output {
        var request = HTTPClientRequest(url: "\(baseURL)/v1/control/\(route)")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/protobuf")
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
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

/// Options every Control API command shares: a named connection from the user's connections file, or flags, which
/// override what the connection says.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "A connection named in \(SuperLinkConnections.path()) (POLLEN_HOME moves it); default: its [superlink] default.")
    var connection: String?
    @Option(help: "The SuperLink's HOST:PORT (without --connection, the connections file is not read; default 127.0.0.1:9092).")
    var superlink: String?
    @Flag(inversion: .prefixedNo, help: "Connect over plain HTTP instead of HTTPS (--no-insecure: HTTPS even if the connection says insecure).")
    var insecure: Bool?
    @Option(help: "A PEM file of the CA certificates to trust for the SuperLink (default: the system's).") var rootCertificates: String?
    @Option(help: "A PEM certificate to present to a SuperLink that requires client certificates.") var clientCertificate: String?
    @Option(help: "The PEM private key of --client-certificate.") var clientKey: String?
    @Option(help: "A file holding your Control API token, for a SuperLink with accounts (`pollen account` makes one).") var tokenFile: String?

    /// The connection the flags and the connections file describe.
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SuperLinkConnection {
        var resolved = SuperLinkConnection.fallback
        // An explicit address without a connection name means the flags alone: the default connection's
        // certificates belong to another SuperLink.
        if connection != nil || superlink == nil {
            let path = SuperLinkConnections.path(environment: environment)
            if let file = try SuperLinkConnections.load(path: path) {
                resolved = try file.connection(named: connection, path: path) ?? resolved
            } else if let connection {
                throw CLIError("no connections file at \(path) for --connection \(connection); write one with a [superlink.\(connection)] table (address = \"HOST:PORT\")")
            }
        }
        if let superlink { resolved.address = superlink }
        if let insecure { resolved.insecure = insecure }
        if let rootCertificates { resolved.rootCertificates = rootCertificates }
        if let clientCertificate { resolved.clientCertificate = clientCertificate }
        if let clientKey { resolved.clientKey = clientKey }
        if let tokenFile { resolved.tokenFile = tokenFile }
        return resolved
    }

    /// Runs `body` with a client for the SuperLink, closing its connections afterwards.
    func withClient<T>(_ body: (ControlClient) async throws -> T) async throws -> T {
        let target = try resolved()
        if target.insecure, target.clientCertificate != nil || target.clientKey != nil {
            throw CLIError("a client certificate needs TLS, but the connection to \(target.address) is insecure: drop --insecure (or insecure = true)")
        }
        let token = try target.tokenFile.map { file in
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIError("cannot read the token file '\(file)'") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let http = target.insecure ? HTTPClient(eventLoopGroupProvider: .singleton) : try TLSSettings.client(
            rootCertificates: target.rootCertificates, clientCertificate: target.clientCertificate, clientKey: target.clientKey
        )
        let client = ControlClient(baseURL: "\(target.insecure ? "http" : "https")://\(target.address)", http: http, token: token)
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
