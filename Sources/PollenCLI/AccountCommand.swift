public import ArgumentParser
import Foundation
import PollenLink

/// `pollen account NAME --token-file FILE`: makes a Control API account's token. The token goes to FILE (mode
/// 0600), for its holder's CLI; the lines for the SuperLink's accounts file, which hold only the token's SHA-256,
/// go to standard output, for the operator.
public struct AccountCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Make a Control API account's token, and the lines that admit it to a SuperLink's --accounts file."
    )

    @Argument(help: "The account's name, as runs and logs record it.") var name: String
    @Option(help: "researcher (submits runs; sees, follows and stops its own) or operator (every run, and the SuperNodes).")
    var role = "researcher"
    @Option(help: "Where to write the new token (created with mode 0600; an existing file is not replaced).") var tokenFile: String

    public init() {}

    public func run() async throws {
        guard let role = ControlRole(rawValue: role) else {
            throw ValidationError("--role must be researcher or operator, got '\(role)'")
        }
        // A TOML bare key, so the printed lines need no quoting.
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw ValidationError("an account name has ASCII letters, digits, '-' and '_', got '\(name)'")
        }
        guard !FileManager.default.fileExists(atPath: tokenFile) else {
            throw ValidationError("'\(tokenFile)' exists; choose another --token-file (a token file is never replaced)")
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in String(generator.next(), radix: 16).leftPadded(to: 16) }.joined()
        guard FileManager.default.createFile(atPath: tokenFile, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write the token to '\(tokenFile)'")
        }
        print("[accounts.\(name)]\nrole = \"\(role.rawValue)\"\ntoken-sha256 = \"\(ControlAccounts.sha256(of: token))\"")
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(width - count, 0)) + self
    }
}
