public import ArgumentParser
import Foundation
import PollenApps
import PollenNode

/// `pollen clientapp`: the isolated ClientApp process a SuperNode starts for each message (not for people to run).
public struct ClientAppCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "clientapp",
        abstract: "Run the ClientApp on one message exchanged through files (started by `pollen supernode`).",
        shouldDisplay: false
    )

    @Option(help: "The file holding the instruction and the node's context.") var input: String
    @Option(help: "The file to write the reply and the updated context to.") var output: String
    @Option(help: "The most memory (data segment) this process may use, in MiB.") var memoryLimitMb: Int?
    @Option(help: "A file in shared memory to make the reply's large arrays in.") var scratch: String?

    public init() {}

    public func run() async throws {
        if let memoryLimitMb { try MemoryLimit.apply(megabytes: memoryLimitMb) }
        try await IsolatedClientApp.serve(input: input, output: output, scratch: scratch, app: BuiltInApp.clientApp(data: LocalCSVData.provider))
    }
}
