public import PollenCore

/// The apps a Pollen SuperLink and SuperNode run, chosen per run by the run configuration's `app` key.
public enum BuiltInApp: String, CaseIterable, Sendable {
    /// Federated training of a tabular model on each site's CSV data (`TabularServerApp`, `TabularClientApp`).
    case tabular
    /// Moving a large model to every node and back (`ModelTransferApp`), the deployment benchmark's workload.
    case modelTransfer = "model-transfer"

    /// The run-configuration key that names the app; a run without it runs `tabular`.
    public static let configKey = "app"

    /// The app a run configuration names.
    ///
    /// - Throws: `AppConfigError` when `app` names no built-in app.
    public init(runConfig: UserConfig) throws {
        let name = try ConfigReader(runConfig).string(Self.configKey, default: Self.tabular.rawValue, allowed: Self.allCases.map(\.rawValue))
        self = Self(rawValue: name)!
    }

    /// One ClientApp serving every built-in app: each message goes to the app its run's configuration names.
    ///
    /// - Parameter data: where the tabular app finds a node's rows.
    public static func clientApp(data: @escaping TabularClientApp.DataProvider) -> ClientApp {
        let apps: [BuiltInApp: ClientApp] = [.tabular: TabularClientApp.make(data: data), .modelTransfer: ModelTransferApp.clientApp()]
        var router = ClientApp()
        for type in Set(apps.values.flatMap(\.messageTypes)) {
            router.on(type) { message, context in
                let app = try BuiltInApp(runConfig: context.runConfig)
                guard let handler = apps[app]?.handler(for: type) else {
                    throw AppConfigError(key: configKey, message: "the \(app.rawValue) app does not handle '\(type.rawValue)' messages")
                }
                return try await handler(message, &context)
            }
        }
        return router
    }
}
