public import Hummingbird
import PollenStore
public import Logging
import HummingbirdTLS
public import NIOSSL

/// The SuperLink's settings.
public struct SuperLinkConfiguration: Sendable {
    /// The address to listen on.
    public var host: String
    /// The port to listen on; 0 picks a free one.
    public var port: Int
    /// The SQLite file of the state, or `SQLiteDatabase.inMemoryPath`.
    public var databasePath: String
    /// Whether nodes may register their own keys (`false` with `--require-known-nodes`).
    public var allowsSelfRegistration: Bool
    /// The largest request body accepted.
    public var maximumBodyBytes: Int
    /// The Control API's accounts (`--accounts`); `nil` leaves the Control API open.
    public var controlAccounts: ControlAccounts?
    /// Whether runs of Flower App Bundles are taken (the SuperLink has Flower's `flwr-serverapp` to run them).
    public var runsFlowerApps: Bool

    public init(
        host: String = "127.0.0.1", port: Int = 9092, databasePath: String = "pollen-superlink.db",
        allowsSelfRegistration: Bool = true, maximumBodyBytes: Int = FleetRoutes.defaultMaximumBodyBytes,
        controlAccounts: ControlAccounts? = nil, runsFlowerApps: Bool = false
    ) {
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.allowsSelfRegistration = allowsSelfRegistration
        self.maximumBodyBytes = maximumBodyBytes
        self.controlAccounts = controlAccounts
        self.runsFlowerApps = runsFlowerApps
    }
}

/// The SuperLink: the coordinator a research network runs. It serves the Fleet API to SuperNodes over HTTP, with
/// its nodes, runs, messages and objects in one SQLite database.
public enum SuperLink {
    /// The router of every SuperLink API, over `handlers`.
    public static func router(
        handlers: FleetHandlers, maximumBodyBytes: Int = FleetRoutes.defaultMaximumBodyBytes, controlAccounts: ControlAccounts? = nil,
        runsFlowerApps: Bool = false
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: FleetErrorMiddleware())
        SuperLinkMetrics.add(to: router, state: handlers.state, objects: handlers.objects, accounts: controlAccounts)
        router.get("/health") { _, _ in "ok" }
        FleetRoutes.add(to: router, handlers: handlers, maximumBodyBytes: maximumBodyBytes)
        ControlRoutes.add(to: router, state: handlers.state, accounts: controlAccounts, runsFlowerApps: runsFlowerApps)
        return router
    }

    /// The app runtime API for the ServerApp processes of `handlers`' runs, on a free loopback port, plain HTTP (only
    /// processes on this machine reach it, and each call carries its run's secret token).
    public static func runtimeApplication(
        handlers: RuntimeHandlers, logger: Logger = Logger(label: "pollen.superlink.runtime"),
        onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: FleetErrorMiddleware())
        RuntimeRoutes.add(to: router, handlers: handlers)
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "pollen-superlink-runtime"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    /// Fleet handlers over the database at `configuration.databasePath`.
    public static func handlers(configuration: SuperLinkConfiguration) throws -> FleetHandlers {
        let database = try SQLiteDatabase(path: configuration.databasePath)
        // In memory, objects skip SQLite altogether: nothing to make durable, and no copy in and out of its pages.
        let objects: any ObjectStore = configuration.databasePath == SQLiteDatabase.inMemoryPath
            ? InMemoryObjectStore() : SQLiteObjectStore(database: database)
        return FleetHandlers(
            state: SQLiteLinkState(database: database), objects: objects,
            allowsSelfRegistration: configuration.allowsSelfRegistration
        )
    }

    /// The HTTP application serving the SuperLink over `handlers`, ready to `runService()` (which stops gracefully on
    /// SIGTERM).
    ///
    /// - Parameter tls: the server's certificate and key; `nil` serves plain HTTP (`--insecure`).
    public static func application(
        configuration: SuperLinkConfiguration, handlers: FleetHandlers, tls: TLSConfiguration?,
        logger: Logger = Logger(label: "pollen.superlink"), onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        Application(
            router: router(
                handlers: handlers, maximumBodyBytes: configuration.maximumBodyBytes, controlAccounts: configuration.controlAccounts,
                runsFlowerApps: configuration.runsFlowerApps
            ),
            server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pollen-superlink"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
