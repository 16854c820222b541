import AsyncHTTPClient
import Foundation
import NIOSSL

/// TLS for Pollen's daemons and clients, from PEM files named on the command line.
enum TLSSettings {
    /// A server configuration from a certificate chain and its private key; with `clientAuthorities` (a PEM file of CA
    /// certificates), every client must present a certificate one of them signed (mutual TLS).
    static func server(certificateFile: String?, keyFile: String?, clientAuthorities: String? = nil) throws -> TLSConfiguration {
        guard let certificateFile, let keyFile else {
            throw CLIError("TLS is on by default: pass --ssl-certfile CERT.pem and --ssl-keyfile KEY.pem, or --insecure to serve plain HTTP")
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try certificates(certificateFile).map { .certificate($0) }, privateKey: .privateKey(try key(keyFile))
        )
        if let clientAuthorities {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try certificates(clientAuthorities))
        }
        return tls
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
    private static func certificates(_ file: String) throws -> [NIOSSLCertificate] {
        do { return try NIOSSLCertificate.fromPEMFile(file) } catch {
            throw CLIError("cannot read the certificates '\(file)': \(error); it must hold PEM certificates")
        }
    }

    private static func key(_ file: String) throws -> NIOSSLPrivateKey {
        do { return try NIOSSLPrivateKey(file: file, format: .pem) } catch {
            throw CLIError("cannot read the private key '\(file)': \(error); it must be a PEM private key")
        }
    }
}
