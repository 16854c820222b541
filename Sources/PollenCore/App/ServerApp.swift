/// The code that runs a federation's rounds (Flower's `ServerApp`): a main function given a `Grid` and a context.
///
/// The same ServerApp runs in simulation and in deployment; only the grid behind it differs.
public struct ServerApp: Sendable {
    /// The app's entry point.
    public typealias Main = @Sendable (any Grid, Context) async throws -> Void

    private let main: Main

    /// A ServerApp that runs `main`.
    public init(main: @escaping Main) { self.main = main }

    /// Runs the app to completion on `grid`.
    public func run(grid: any Grid, context: Context) async throws {
        try await main(grid, context)
    }
}
