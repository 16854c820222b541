public import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PollenLink
import PollenStore
import ServiceLifecycle
import UnixSignals

/// `pollen superlink`: the coordinator daemon.
public struct SuperLinkCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "superlink",
        abstract: "Run a SuperLink: the Fleet API for SuperNodes and the Control API for researchers, on one port.",
        discussion: """
            TLS is on by default (--ssl-certfile, --ssl-keyfile); --insecure serves plain HTTP. State (nodes, runs, \
            messages, objects) lives in a SQLite file (--database), so a SuperLink killed and restarted on the same \
            file loses nothing it accepted. Each run's ServerApp runs in a process of its own, talking to the \
            SuperLink over the app runtime API on a loopback port (--isolation none: inside the SuperLink); a run \
            of a Flower App Bundle (`flwr run`) runs its ServerApp with Flower's flwr-serverapp. Stops \
            gracefully on SIGTERM or SIGINT; reads its accounts file and TLS certificate again on SIGHUP.
            """
    )

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one, printed at start).") var port = 9092
    @Option(help: "The SQLite state file, or :memory: for state that ends with the process.") var database = "pollen-superlink.db"
    @Flag(help: "Serve plain HTTP instead of HTTPS (logged as a warning).") var insecure = false
    @Option(help: "The server's PEM certificate chain (HTTPS), read again with its key on SIGHUP.") var sslCertfile: String?
    @Option(help: "The server's PEM private key (HTTPS).") var sslKeyfile: String?
    @Option(help: "Require every client (SuperNodes and the CLI) to present a certificate signed by one of the CAs in this PEM file (mutual TLS).")
    var sslClientCaCertfile: String?
    @Flag(help: "Refuse self-registration; only keys an operator registered may connect.") var requireKnownNodes = false
    @Option(help: "A TOML file of Control API accounts (researchers and operators, each by its token's SHA-256; `pollen account` makes them), read again on SIGHUP. Without it, whoever reaches the port may submit and stop runs.")
    var accounts: String?
    @Option(help: "Where each run's ServerApp runs: 'process' (a process of its own, talking to this SuperLink over the app runtime API on a loopback port) or 'none' (inside this daemon).")
    var isolation = "process"
    @Option(help: "Flower's flwr-serverapp (Flower 1.42): run the ServerApps of Flower App Bundles submitted with `flwr run` (with --isolation process). They are researchers' code running as this daemon's user, which should hold nothing else. Without it such runs are refused.")
    var flowerServerapp: String?
    @Option(help: "The most memory each ServerApp process may use, in MiB (with --isolation process; default: no limit).")
    var serverappMemoryLimit: Int?
    @Option(help: "Seconds a run may last before its ServerApp process is stopped and the run fails (with --isolation process; default: no limit).")
    var serverappTimeout: Double?

    public init() {}

    /// Seconds the server may take to answer the requests in hand on SIGTERM.
    static let shutdownGracePeriod = 10.0

    public func run() async throws {
        if insecure, sslClientCaCertfile != nil {
            throw ValidationError("--ssl-client-ca-certfile needs TLS: drop --insecure and pass --ssl-certfile and --ssl-keyfile")
        }
        let identity = insecure ? nil : try TLSSettings.identity(certificateFile: sslCertfile, keyFile: sslKeyfile)
        let tls = try identity.map { try TLSSettings.server($0, clientAuthorities: sslClientCaCertfile) }
        if insecure {
            Daemon.warn("WARNING: --insecure: the SuperLink serves plain HTTP; node keys still sign every request, but traffic is not encrypted")
        }
        var logger = Logger(label: "pollen.superlink")
        logger.logLevel = .info
        let controlAccounts = try accounts.map(AccountsFile.load(path:))
        if controlAccounts == nil {
            Daemon.warn(
                "WARNING: no --accounts: every client that reaches this port (with mutual TLS, every certificate holder, SuperNodes included) "
                    + "may submit, follow and stop runs and register nodes"
            )
        }
        if isolation != "process", flowerServerapp != nil {
            throw ValidationError("--flower-serverapp starts ServerApp processes: it needs --isolation process")
        }
        let flower = try flowerServerapp.map(FlowerServerApp.init(path:))
        let configuration = SuperLinkConfiguration(
            host: host, port: port, databasePath: database, allowsSelfRegistration: !requireKnownNodes, controlAccounts: controlAccounts,
            runsFlowerApps: flower != nil
        )
        let handlers = try SuperLink.handlers(configuration: configuration)
        // Connections did not survive the restart; every node activates again when it reconnects.
        try await handlers.state.markAllNodesOffline()
        let scheme = insecure ? "http" : "https"
        let app = try SuperLink.application(configuration: configuration, handlers: handlers, tls: tls, logger: logger) { port in
            Daemon.announce("SuperLink listening on \(scheme)://\(configuration.host):\(port) (database \(configuration.databasePath))")
        }
        let runtimeHandlers = RuntimeHandlers(fleet: handlers)
        let runtimePort = RuntimePort()
        // Trapped before serving: from here on, SIGHUP reloads the accounts and certificate instead of ending the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        var reloadables = [SIGHUPReloader.Reloadable]()
        if let accounts, let controlAccounts {
            reloadables.append(.init(name: "accounts file") {
                let read = try AccountsFile.load(path: accounts)
                controlAccounts.replace(with: read)
                return ["path": "\(accounts)", "accounts": "\(read.count)"]
            })
        }
        if let identity {
            reloadables.append(.init(name: "TLS certificate") {
                let validUntil = try identity.reload()
                return ["path": "\(identity.certificateFile)", "valid-until": "\(validUntil.formatted(.iso8601))"]
            })
        }
        var services: [any Service] = [SIGHUPReloader(reloadables: reloadables, hangups: hangups, logger: logger), app]
        let serverApps: ServerAppIsolation
        switch isolation {
        case "process":
            guard let executable = Bundle.main.executablePath else { throw ValidationError("cannot find the pollen executable to start ServerApps with") }
            services.append(SuperLink.runtimeApplication(handlers: runtimeHandlers, logger: logger) { port in await runtimePort.set(port) })
            if let serverappMemoryLimit, !(128...MemoryLimit.largestMegabytes).contains(serverappMemoryLimit) {
                throw ValidationError("--serverapp-memory-limit is in MiB and must be between 128 and \(MemoryLimit.largestMegabytes), got \(serverappMemoryLimit)")
            }
            if let serverappTimeout, !(serverappTimeout > 0) {
                throw ValidationError("--serverapp-timeout is in seconds and must be positive, got \(serverappTimeout)")
            }
            let limits = ServerAppLimits(memoryMegabytes: serverappMemoryLimit, timeLimitSeconds: serverappTimeout)
            serverApps = .process(executable: executable, runtime: runtimePort, limits: limits, flower: flower)
            if let flower { logger.info("runs the ServerApps of Flower App Bundles with \(flower.executable)") }
        case "none":
            guard serverappMemoryLimit == nil, serverappTimeout == nil else {
                throw ValidationError("--serverapp-memory-limit and --serverapp-timeout limit ServerApp processes: they need --isolation process")
            }
            serverApps = .none
        default:
            throw ValidationError("--isolation must be 'process' or 'none', got '\(isolation)'")
        }
        // Last, so that on SIGTERM the launcher stops first (its runs end as failed, with the reason), then the
        // servers finish the requests in hand.
        services.append(RunLauncher(handlers: handlers, runtimeHandlers: runtimeHandlers, isolation: serverApps, logger: logger))
        try await Daemon.run(services, gracePeriodSeconds: Self.shutdownGracePeriod, logger: logger)
    }
}
