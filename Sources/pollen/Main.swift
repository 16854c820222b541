import PollenCLI

/// The `pollen` executable: parses the command line and runs the chosen command.
@main
struct Main {
    static func main() async {
        await PollenCommand.runFromCommandLine()
    }
}
