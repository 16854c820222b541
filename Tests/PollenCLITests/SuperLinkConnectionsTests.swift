import ArgumentParser
import Foundation
@testable import PollenCLI
import Testing

/// The user's connections file and how a command's flags combine with it.
@Suite struct SuperLinkConnectionsTests {
    static let file = """
        [superlink]
        default = "local"

        [superlink.local]
        address = "127.0.0.1:9092"
        insecure = true

        [superlink.network]
        address = "link.example.org:9092"
        root-certificates = "certs/ca.pem"
        client-certificate = "/etc/pollen/me.pem"
        client-key = "certs/me.key"
        token-file = "me.token"
        """

    /// A POLLEN_HOME holding `text` as its config.toml.
    func home(_ text: String?) throws -> [String: String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let text { try text.write(to: folder.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8) }
        return ["POLLEN_HOME": folder.path]
    }

    @Test func theFileIsReadInFlowersLayoutWithPathsFromItsFolder() throws {
        let connections = try SuperLinkConnections.parse(Self.file, path: "/home/me/.pollen/config.toml")
        #expect(connections.defaultName == "local")
        #expect(connections.connections["local"] == SuperLinkConnection(address: "127.0.0.1:9092", insecure: true))
        #expect(connections.connections["network"] == SuperLinkConnection(
            address: "link.example.org:9092", rootCertificates: "/home/me/.pollen/certs/ca.pem",
            clientCertificate: "/etc/pollen/me.pem", clientKey: "/home/me/.pollen/certs/me.key", tokenFile: "/home/me/.pollen/me.token"
        ))
        #expect(SuperLinkConnections.path(environment: ["HOME": "/home/me"]) == "/home/me/.pollen/config.toml")
        #expect(SuperLinkConnections.path(environment: ["HOME": "/home/me", "POLLEN_HOME": "/srv/p"]) == "/srv/p/config.toml")
    }

    @Test func aCommandUsesTheDefaultANamedConnectionOrItsFlags() throws {
        let environment = try home(Self.file)
        let byDefault = try ConnectionOptions.parse([]).resolved(environment: environment)
        #expect(byDefault.address == "127.0.0.1:9092" && byDefault.insecure)
        let named = try ConnectionOptions.parse(["--connection", "network"]).resolved(environment: environment)
        #expect(named.address == "link.example.org:9092" && !named.insecure && named.clientKey?.hasSuffix("certs/me.key") == true)
        // Flags override what the connection says.
        let overridden = try ConnectionOptions.parse(["--connection", "network", "--root-certificates", "other.pem"]).resolved(environment: environment)
        #expect(overridden.rootCertificates == "other.pem" && overridden.address == "link.example.org:9092")
        let secured = try ConnectionOptions.parse(["--no-insecure"]).resolved(environment: environment)
        #expect(secured.address == "127.0.0.1:9092" && !secured.insecure)
        // An address alone means the flags alone: the default connection's settings belong to another SuperLink.
        let explicit = try ConnectionOptions.parse(["--superlink", "10.0.0.5:9092"]).resolved(environment: environment)
        #expect(explicit == SuperLinkConnection(address: "10.0.0.5:9092"))
        // No file: the built-in default.
        #expect(try ConnectionOptions.parse([]).resolved(environment: try home(nil)) == .fallback)
    }

    @Test func mistakesNameTheFileTheConnectionAndTheFix() throws {
        func error(_ text: String?, _ arguments: [String] = []) throws -> String {
            let environment = try home(text)
            do {
                _ = try ConnectionOptions.parse(arguments).resolved(environment: environment)
                return ""
            } catch { return "\(error)" }
        }
        #expect(try error(Self.file, ["--connection", "elsewhere"]).contains("no connection 'elsewhere'"))
        #expect(try error(Self.file, ["--connection", "elsewhere"]).contains("it has local, network"))
        #expect(try error(nil, ["--connection", "local"]).contains("no connections file at"))
        #expect(try error("[superlink]\ndefault = \"gone\"\n").contains("default connection 'gone' has no [superlink.gone] table"))
        #expect(try error("[superlink.a]\nadress = \"x:1\"\n").contains("unknown key 'adress'"))
        #expect(try error("[superlink.a]\ninsecure = true\n").contains("needs an address"))
        #expect(try error("[superlink.a]\naddress = \"x:1\"\ninsecure = \"yes\"\n").contains("insecure must be true or false"))
        #expect(try error("[superlink\n").contains("invalid TOML at line 1"))
        #expect(try error("[other]\n").contains("no [superlink] table"))
    }
}
