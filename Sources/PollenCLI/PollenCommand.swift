public import ArgumentParser

/// The `pollen` command: federated learning that moves the computation, not the data.
public struct PollenCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pollen",
        abstract: "Pollen: federated learning across sites that keep their data.",
        subcommands: [
            SimulateCommand.self, SuperLinkCommand.self, SuperNodeCommand.self, RunCommand.self, ListCommand.self, LogCommand.self,
            StopCommand.self, NodesCommand.self, AccountCommand.self, ClientAppCommand.self, ServerAppCommand.self,
        ]
    )

    public init() {}
}

extension PollenCommand {
    /// Tunes the allocator for large buffers, parses the process's arguments, runs the chosen command, and exits
    /// with its status.
    public static func runFromCommandLine() async {
        AllocatorTuning.apply()
        await main()
    }
}
