import AsyncHTTPClient
import Foundation
import NIOSSL

/// TLS for Pollen's daemons and clients, from PEM files named on the command line.
enum TLSSettings {
    /// A server configuration from a certificate chain and its private key.
    static func server(certificateFile: String?, keyFile: String?) throws -> TLSConfiguration {
        guard let certificateFile, let keyFile else {
            throw CLIError("TLS is on by default: pass --ssl-certfile CERT.pem and --ssl-keyfile KEY.pem, or --insecure to serve plain HTTP")
        }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw CLIError("cannot read the certificate '\(certificateFile)': \(error); it must be a PEM certificate chain")
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw CLIError("cannot read the private key '\(keyFile)': \(error); it must be a PEM private key")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// An HTTP client that trusts `rootCertificates` (a PEM file of CA certificates), or the system's roots.
    static func client(rootCertificates: String?) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let rootCertificates {
            do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificates)) } catch {
                throw CLIError("cannot read the root certificates '\(rootCertificates)': \(error); pass a PEM file of CA certificates")
            }
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
    }
}
