public import PollenCore

/// The secret each ServerApp process proves its run with on the app runtime API (Flower's task token): issued
/// when the SuperLink starts the process, revoked when the run ends.
public actor RunTokens {
    private var runs: [String: RunID] = [:]

    public init() {}

    /// A fresh token for `run`: 256 bits from the system's secure generator, in hex.
    public func issue(for run: RunID) -> String {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in
            let word = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - word.count) + word
        }.joined()
        runs[token] = run
        return token
    }

    /// The run `token` was issued for, if it is still valid.
    public func run(for token: String) -> RunID? { runs[token] }

    /// Ends every token of `run`.
    public func revoke(_ run: RunID) { runs = runs.filter { $0.value != run } }
}
