import Foundation
import PollenLink
import TOMLKit

/// The Control API accounts of `pollen superlink --accounts FILE`, a TOML file an operator keeps:
///
/// ```toml
/// [accounts.alice]
/// role = "researcher"                # or "operator"
/// token-sha256 = "9f86d081884c7d65…" # printed by `pollen account alice --token-file alice.token`
/// ```
///
/// It holds each token's SHA-256, never a token.
enum AccountsFile {
    static func load(path: String) throws -> ControlAccounts {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CLIError("cannot read the accounts file '\(path)': \(error.localizedDescription)")
        }
        return try parse(text, path: path)
    }

    static func parse(_ text: String, path: String) throws -> ControlAccounts {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw CLIError("\(path): invalid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        for key in root.keys where key != "accounts" {
            throw CLIError("\(path): unknown key '\(key)'; accounts are [accounts.NAME] tables with a role and a token-sha256")
        }
        guard let tables = root["accounts"]?.table, !tables.keys.isEmpty else {
            throw CLIError("\(path): no accounts; add [accounts.NAME] tables (`pollen account NAME --token-file FILE` prints one)")
        }
        let roles = ControlRole.allCases.map(\.rawValue).joined(separator: " or ")
        var accounts: [(tokenSHA256: String, account: ControlAccount)] = []
        var seen = Set<String>()
        for name in tables.keys.sorted() {
            guard let table = tables[name]?.table else { throw CLIError("\(path): accounts.\(name) must be a table [accounts.\(name)]") }
            for key in table.keys where !["role", "token-sha256"].contains(key) {
                throw CLIError("\(path): [accounts.\(name)] has an unknown key '\(key)'; an account has role and token-sha256")
            }
            guard let role = table["role"]?.string.flatMap(ControlRole.init(rawValue:)) else {
                throw CLIError("\(path): [accounts.\(name)] needs role = \"researcher\" or \"operator\" (roles: \(roles))")
            }
            guard let hash = table["token-sha256"]?.string?.lowercased(), hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
                throw CLIError("\(path): [accounts.\(name)] needs token-sha256, the 64 hex digits `pollen account` prints (never the token itself)")
            }
            guard seen.insert(hash).inserted else { throw CLIError("\(path): [accounts.\(name)] has the token of another account") }
            accounts.append((hash, ControlAccount(name: name, role: role)))
        }
        return ControlAccounts(accounts)
    }
}
