import Foundation
import TOMLKit

/// How to reach one SuperLink: its address and the TLS material to use.
struct SuperLinkConnection: Equatable, Sendable {
    /// `HOST:PORT` of the SuperLink.
    var address: String
    /// Plain HTTP instead of HTTPS.
    var insecure = false
    /// A PEM file of the CA certificates to trust for the SuperLink; `nil` for the system's.
    var rootCertificates: String?
    /// A PEM certificate (chain) this client presents, for a SuperLink that requires client certificates.
    var clientCertificate: String?
    /// The private key of `clientCertificate`, PEM.
    var clientKey: String?
    /// A file holding this user's Control API token, for a SuperLink with accounts (`pollen account`).
    var tokenFile: String?

    /// Where the CLI connects when nothing says otherwise.
    static let fallback = SuperLinkConnection(address: "127.0.0.1:9092")
}

/// The user's named SuperLink connections, in `$POLLEN_HOME/config.toml` (default `~/.pollen/config.toml`), laid
/// out as Flower 1.42's `$FLWR_HOME/config.toml`:
///
/// ```toml
/// [superlink]
/// default = "local"
///
/// [superlink.local]
/// address = "127.0.0.1:9092"
/// insecure = true
///
/// [superlink.research-network]
/// address = "link.example.org:9092"
/// root-certificates = "certificates/ca.pem"     # relative to this file's folder
/// client-certificate = "certificates/me.pem"    # for a SuperLink that requires client certificates
/// client-key = "certificates/me.key"
/// token-file = "alice.token"                  # for a SuperLink with Control API accounts
/// ```
struct SuperLinkConnections: Equatable {
    /// The connection used when a command names none.
    var defaultName: String?
    /// Every connection, by name.
    var connections: [String: SuperLinkConnection]

    /// The keys a connection may have.
    static let keys = ["address", "insecure", "root-certificates", "client-certificate", "client-key", "token-file"]

    /// The config file's path: `$POLLEN_HOME/config.toml`, else `$HOME/.pollen/config.toml`.
    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["POLLEN_HOME"], !home.isEmpty { return home + "/config.toml" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.pollen/config.toml"
    }

    /// The connections in the file at `path`; `nil` when there is no such file.
    static func load(path: String) throws -> SuperLinkConnections? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CLIError("cannot read the connections file '\(path)': \(error)")
        }
        return try parse(text, path: path)
    }

    /// Parses the text of a connections file found at `path` (relative certificate paths are resolved from its folder).
    static func parse(_ text: String, path: String) throws -> SuperLinkConnections {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw CLIError("\(path): invalid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        guard let superlink = root["superlink"]?.table else {
            throw CLIError("\(path): no [superlink] table; connections are [superlink.NAME] tables with an address, e.g. [superlink.local] address = \"127.0.0.1:9092\"")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        var connections = SuperLinkConnections(defaultName: nil, connections: [:])
        for name in superlink.keys {
            if name == "default" {
                guard let value = superlink[name]?.string else { throw CLIError("\(path): [superlink] default must be the name of a connection, in quotes") }
                connections.defaultName = value
                continue
            }
            guard let table = superlink[name]?.table else {
                throw CLIError("\(path): [superlink] has '\(name)', which is neither 'default' nor a [superlink.\(name)] table")
            }
            connections.connections[name] = try connection(table, name: name, path: path, folder: folder)
        }
        if let name = connections.defaultName, connections.connections[name] == nil {
            throw CLIError("\(path): the default connection '\(name)' has no [superlink.\(name)] table")
        }
        return connections
    }

    private static func connection(_ table: TOMLTable, name: String, path: String, folder: URL) throws -> SuperLinkConnection {
        for key in table.keys where !keys.contains(key) {
            throw CLIError("\(path): [superlink.\(name)] has an unknown key '\(key)'; a connection has \(keys.joined(separator: ", "))")
        }
        guard let address = table["address"]?.string, !address.isEmpty else {
            throw CLIError("\(path): [superlink.\(name)] needs an address, e.g. address = \"127.0.0.1:9092\"")
        }
        func file(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let text = value.string, !text.isEmpty else { throw CLIError("\(path): [superlink.\(name)] \(key) must be a file path, in quotes") }
            let expanded = (text as NSString).expandingTildeInPath
            return expanded.hasPrefix("/") ? expanded : folder.appendingPathComponent(expanded).path
        }
        var insecure = false
        if let value = table["insecure"] {
            guard let flag = value.bool else { throw CLIError("\(path): [superlink.\(name)] insecure must be true or false") }
            insecure = flag
        }
        return SuperLinkConnection(
            address: address, insecure: insecure, rootCertificates: try file("root-certificates"),
            clientCertificate: try file("client-certificate"), clientKey: try file("client-key"), tokenFile: try file("token-file")
        )
    }

    /// The connection named `name`, or the default one; `nil` when no name is given and there is no default.
    func connection(named name: String?, path: String) throws -> SuperLinkConnection? {
        guard let name = name ?? defaultName else { return nil }
        guard let connection = connections[name] else {
            let known = connections.keys.sorted()
            throw CLIError("no connection '\(name)' in \(path)" + (known.isEmpty ? "" : "; it has \(known.joined(separator: ", "))"))
        }
        return connection
    }
}
