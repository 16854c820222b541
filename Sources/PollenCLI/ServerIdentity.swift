import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// A TLS server's certificate chain and private key, read from their PEM files and read again on `reload()`:
/// every handshake takes the pair in place when it starts, so a renewed certificate is served without a restart
/// (connections already open keep the one they began with).
final class ServerIdentity: Sendable {
    let certificateFile: String
    let keyFile: String
    private let current: Mutex<NIOSSLContextConfigurationOverride>

    /// The pair in `certificateFile` and `keyFile`.
    ///
    /// - Throws: `CLIError` naming the file that does not read, or saying that the key is not the certificate's.
    init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        current = Mutex(try Self.read(certificateFile: certificateFile, keyFile: keyFile).pair)
    }

    /// The chain and key for a server configuration.
    var pair: NIOSSLContextConfigurationOverride { current.withLock { $0 } }

    /// Hands every handshake the pair in place when it starts.
    var handshakeCallback: NIOSSLContextCallback {
        { [self] _, promise in promise.succeed(pair) }
    }

    /// Reads both files again and serves the new pair from the next handshake on; a pair that does not read, or
    /// whose key is not the certificate's, leaves the current one in place and throws. Returns when the new
    /// certificate expires.
    func reload() throws -> Date {
        let read = try Self.read(certificateFile: certificateFile, keyFile: keyFile)
        current.withLock { $0 = read.pair }
        return read.validUntil
    }

    private static func read(certificateFile: String, keyFile: String) throws -> (pair: NIOSSLContextConfigurationOverride, validUntil: Date) {
        let chain = try TLSSettings.certificates(certificateFile)
        guard let leaf = chain.first else { throw CLIError("'\(certificateFile)' holds no certificate; it must hold the server's PEM certificate chain") }
        let key = try TLSSettings.key(keyFile)
        var pair = NIOSSLContextConfigurationOverride()
        pair.certificateChain = chain.map { .certificate($0) }
        pair.privateKey = .privateKey(key)
        // A context refuses a key that is not the certificate's: better here than in every handshake.
        do {
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: pair.certificateChain!, privateKey: pair.privateKey!))
        } catch {
            throw CLIError("the private key '\(keyFile)' does not belong to the certificate '\(certificateFile)' (\(error)); pass the key the certificate was issued for")
        }
        return (pair, Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)))
    }
}
