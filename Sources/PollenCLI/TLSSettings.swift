import AsyncHTTPClient
import Foundation
import NIOSSL

/// TLS for Pollen's daemons and clients, from PEM files named on the command line.
enum TLSSettings {
    /// A server configuration serving `identity` (renewed by `ServerIdentity.reload()`); with `clientAuthorities` (a
    /// PEM file of CA certificates), every client must present a certificate one of them signed (mutual TLS).
    static func server(_ identity: ServerIdentity, clientAuthorities: String? = nil) throws -> TLSConfiguration {
        let pair = identity.pair
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: pair.certificateChain!, privateKey: pair.privateKey!)
        tls.sslContextCallback = identity.handshakeCallback
        if let clientAuthorities {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try certificates(clientAuthorities))
        }
        return tls
    }

    /// The certificate chain and key a server presents, from the files named with `--ssl-certfile` and `--ssl-keyfile`.
    static func identity(certificateFile: String?, keyFile: String?) throws -> ServerIdentity {
        guard let certificateFile, let keyFile else {
            throw CLIError("TLS is on by default: pass --ssl-certfile CERT.pem and --ssl-keyfile KEY.pem, or --insecure to serve plain HTTP")
        }
        return try ServerIdentity(certificateFile: certificateFile, keyFile: keyFile)
    }

    /// An HTTP client that trusts `rootCertificates` (a PEM file of CA certificates), or the system's roots, and
    /// presents `clientCertificate` (with `clientKey`) to a SuperLink that asks for one.
    static func client(rootCertificates: String?, clientCertificate: String? = nil, clientKey: String? = nil) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let rootCertificates { tls.trustRoots = .certificates(try certificates(rootCertificates)) }
        switch (clientCertificate, clientKey) {
        case (nil, nil): break
        case let (certificate?, key?):
            tls.certificateChain = try certificates(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try Self.key(key))
        default:
            throw CLIError("a client certificate needs its key and the key its certificate: pass both --client-certificate and --client-key")
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
    }

    /// The PEM certificates in `file`: a certificate chain, or CA certificates.
    static func certificates(_ file: String) throws -> [NIOSSLCertificate] {
        do { return try NIOSSLCertificate.fromPEMFile(file) } catch {
            throw CLIError("cannot read the certificates '\(file)': \(error); it must hold PEM certificates")
        }
    }

    static func key(_ file: String) throws -> NIOSSLPrivateKey {
        do { return try NIOSSLPrivateKey(file: file, format: .pem) } catch {
            throw CLIError("cannot read the private key '\(file)': \(error); it must be a PEM private key")
        }
    }
}
