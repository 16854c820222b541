public import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import PollenApps
import PollenCore
import PollenNode
import PollenWire
import ServiceLifecycle

/// `pollen supernode`: the daemon a data custodian runs next to the data.
public struct SuperNodeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "supernode",
        abstract: "Run a SuperNode: pull tasks from a SuperLink and run the ClientApp on this site's data.",
        discussion: """
            The SuperNode opens every connection itself and listens on no port. Its identity is a P-384 key \
            (--key, or a fresh one per start). Site settings reach the ClientApp through --node-config, e.g. \
            --node-config data-path=/data/site.csv --node-config label=diagnosis.
            """
    )

    @Option(help: "The SuperLink's HOST:PORT.") var superlink = "127.0.0.1:9092"
    @Flag(help: "Connect over plain HTTP instead of HTTPS (logged as a warning).") var insecure = false
    @Option(help: "A PEM file of the CA certificates to trust for the SuperLink (default: the system's).") var rootCertificates: String?
    @Option(help: "A PEM certificate to present to a SuperLink that requires client certificates.") var clientCertificate: String?
    @Option(help: "The PEM private key of --client-certificate.") var clientKey: String?
    @Option(name: .long, parsing: .singleValue, help: "A site setting key=value (repeatable).") var nodeConfig: [String] = []
    @Option(help: "A file with this node's P-384 private key, PEM or OpenSSH (ssh-keygen -t ecdsa -b 384); created (PEM) if missing, with its public key in KEY.pub.") var key: String?
    @Flag(help: "Only print the public key of --key (creating the key if missing), for an operator to register.") var printPublicKey = false
    @Option(help: "How long the SuperLink may hold a pull until a message comes, in seconds (a Pollen SuperLink holds it, at most 20 s; against one that answers at once the node backs off from 0.05 s to this between pulls).")
    var pollInterval = 1.0
    @Option(help: "Where the ClientApp runs: 'process' (a process of its own per message: a crash, a hang or a memory overrun is one failed reply) or 'none' (inside this daemon).")
    var isolation = "process"
    @Option(help: "Seconds the ClientApp may take on one message before it is stopped (with --isolation process).") var clientappTimeout = 3_600.0
    @Option(help: "The most memory the ClientApp process may use, in MiB (with --isolation process or --flower-clientapp; default: no limit).") var clientappMemoryLimit: Int?
    @Option(help: "Flower's flwr-clientapp (Flower 1.42): run researchers' Flower apps (`flwr run`) with their own Python ClientApps, one process per message within the --clientapp-* limits. That is researchers' code next to the data, running as this daemon's user. Without it, this node answers such runs with the built-in app their `app` setting names.")
    var flowerClientapp: String?
    @Option(help: "The heartbeat interval declared to the SuperLink, 10–1800 s; the node counts as gone after twice that.")
    var heartbeatInterval = 30.0
    @Option(help: "On SIGTERM or SIGINT the node pulls nothing more and finishes the message in hand for at most this many seconds, then stops its ClientApp.")
    var shutdownGracePeriod = 60.0

    public init() {}

    public func run() async throws {
        if printPublicKey {
            guard key != nil else { throw ValidationError("--print-public-key needs --key FILE: the key the node will keep using") }
            print(try loadKey().publicKey.pemRepresentation)
            return
        }
        guard (10...1_800).contains(heartbeatInterval) else {
            throw ValidationError("--heartbeat-interval must be between 10 and 1800 seconds, got \(heartbeatInterval)")
        }
        guard (0.05...600).contains(pollInterval) else {
            throw ValidationError("--poll-interval must be between 0.05 and 600 seconds, got \(pollInterval)")
        }
        guard (0...86_400).contains(shutdownGracePeriod) else {
            throw ValidationError("--shutdown-grace-period must be between 0 and 86400 seconds, got \(shutdownGracePeriod)")
        }
        if let clientappMemoryLimit, !(16...MemoryLimit.largestMegabytes).contains(clientappMemoryLimit) {
            throw ValidationError("--clientapp-memory-limit is in MiB and must be between 16 and \(MemoryLimit.largestMegabytes), got \(clientappMemoryLimit)")
        }
        let clientApp: any ClientAppRunner
        switch isolation {
        case "process":
            guard (0.01...604_800).contains(clientappTimeout) else {
                throw ValidationError("--clientapp-timeout must be between 0.01 and 604800 seconds, got \(clientappTimeout)")
            }
            guard let executable = Bundle.main.executablePath else { throw ValidationError("cannot find the pollen executable to start ClientApps with") }
            clientApp = IsolatedClientApp(
                executable: executable, arguments: ["clientapp"], timeLimitSeconds: clientappTimeout, memoryLimitMegabytes: clientappMemoryLimit
            )
        case "none":
            clientApp = BuiltInApp.clientApp(data: LocalCSVData.provider)
        default:
            throw ValidationError("--isolation must be 'process' or 'none', got '\(isolation)'")
        }
        if insecure, clientCertificate != nil || clientKey != nil {
            throw ValidationError("--client-certificate and --client-key need TLS: drop --insecure")
        }
        if insecure { Daemon.warn("WARNING: --insecure: traffic to the SuperLink is not encrypted") }
        var config = UserConfig()
        for assignment in nodeConfig {
            let (name, value) = try TOMLConfig.override(assignment)
            config[name] = value
        }
        let signingKey = try loadKey()
        var logger = Logger(label: "pollen.supernode")
        logger.logLevel = .info
        let http = try TLSSettings.client(rootCertificates: rootCertificates, clientCertificate: clientCertificate, clientKey: clientKey)
        var services: [any Service] = []
        var flowerClientApp: FlowerClientAppProcess?
        if let flowerClientapp {
            guard FileManager.default.isExecutableFile(atPath: flowerClientapp) else {
                throw ValidationError("--flower-clientapp '\(flowerClientapp)' is not an executable file; pass the flwr-clientapp of a Flower 1.42 install")
            }
            guard (0.01...604_800).contains(clientappTimeout) else {
                throw ValidationError("--clientapp-timeout must be between 0.01 and 604800 seconds, got \(clientappTimeout)")
            }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-flower-clientapp-\(getpid())-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder + "/home", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
            let runtime = ClientAppRuntime()
            services.append(runtime.application(logger: logger))
            flowerClientApp = FlowerClientAppProcess(
                executable: flowerClientapp, runtime: runtime, timeLimitSeconds: clientappTimeout, memoryLimitMegabytes: clientappMemoryLimit, folder: folder
            )
            logger.info("runs the ClientApps of Flower App Bundles with \(flowerClientapp)")
        }
        let node = SuperNode(
            configuration: SuperNodeConfiguration(
                superLinkURL: "\(insecure ? "http" : "https")://\(superlink)", nodeConfig: config, heartbeatInterval: heartbeatInterval, pollSeconds: pollInterval
            ),
            clientApp: clientApp, flowerClientApp: flowerClientApp, key: signingKey, http: http, logger: logger
        )
        services.append(node)
        defer {
            (clientApp as? IsolatedClientApp)?.removeExchangeFiles()
            if let flowerClientApp { try? FileManager.default.removeItem(atPath: flowerClientApp.folder) }
        }
        do {
            try await Daemon.run(services, gracePeriodSeconds: shutdownGracePeriod, logger: logger)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func loadKey() throws -> P384.Signing.PrivateKey {
        guard let key else { return P384.Signing.PrivateKey() }
        if let pem = try? String(contentsOfFile: key, encoding: .utf8) {
            // The key Flower's documentation has a site make (ssh-keygen -t ecdsa -b 384) serves a Pollen node too.
            if pem.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----") {
                do { return try OpenSSHKey.p384PrivateKey(pem: pem) } catch { throw ValidationError("'\(key)': \(error)") }
            }
            do { return try P384.Signing.PrivateKey(pemRepresentation: pem) } catch {
                throw ValidationError("'\(key)' is not a PEM or OpenSSH P-384 private key: \(error)")
            }
        }
        let fresh = P384.Signing.PrivateKey()
        // Created readable by its owner only, before the key is in it. The public half goes beside it, for an
        // operator to register (`pollen nodes --register KEY.pub`).
        guard FileManager.default.createFile(atPath: key, contents: Data(fresh.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]),
              FileManager.default.createFile(atPath: key + ".pub", contents: Data(fresh.publicKey.pemRepresentation.utf8))
        else {
            throw ValidationError("cannot write the node key to '\(key)'")
        }
        return fresh
    }
}
