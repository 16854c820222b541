import NIOCore
import PollenCore
import PollenWire

/// The Flower App Bundle (FAB) a SuperLink serves for its runs, so that a Flower SuperNode in a Pollen federation
/// can take part: a zip Flower 1.42 installs and runs, whose Python ClientApp (`FlowerApp/client_app.py`) answers
/// the built-in apps as Pollen's ClientApps do: `tabular` on the CSV the node's config names, with the same split,
/// batches and arithmetic; `model-transfer` by adding 0.001 to every array.
///
/// The bundle's declared configuration is the run's own (Flower fuses a run's settings with the keys its bundle
/// declares and drops the others), so each run has its bundle, and its hash; the same run always gets the same
/// bytes. Its ServerApp component is never started: the SuperLink runs the ServerApp itself.
struct BuiltInAppBundle: Sendable {
    /// `publisher/name`, as Flower names a bundle.
    static let id = BuiltInAppsBundle.id
    static let version = BuiltInAppsBundle.version

    /// The zip.
    let content: [UInt8]
    /// Its lowercase hex SHA-256, by which Flower asks for it.
    let hash: String

    /// The bundle of a run whose configuration is `config`.
    init(config: ConfigRecord) {
        var files: [(path: String, contents: [UInt8])] = [
            ("pyproject.toml", Array(Self.manifest(config: config).utf8)),
            ("pollenapps/__init__.py", Array("\"\"\"Pollen's built-in apps, for Flower SuperNodes.\"\"\"\n".utf8)),
            ("pollenapps/client_app.py", Array(Self.clientApp.utf8)),
            ("pollenapps/server_app.py", Array(Self.serverApp.utf8)),
        ]
        // Flower checks every file against this list before it installs the bundle.
        let listing = files.map { "\($0.path),\(Self.sha256(of: $0.contents)),\($0.contents.count)\n" }.joined()
        files.append((".info/CONTENT", Array(listing.utf8)))
        content = StoredZip.archive(files)
        hash = Self.sha256(of: content)
    }

    /// `pyproject.toml`: the project, its components and the run's configuration as TOML.
    static func manifest(config: ConfigRecord) -> String {
        var lines = [
            "[project]", "name = \"pollenapps\"", "version = \"\(version)\"",
            "description = \"Pollen's built-in apps (tabular, model-transfer), for Flower SuperNodes in a Pollen federation\"",
            "license = \"Apache-2.0\"", "dependencies = [\"flwr>=1.42\", \"numpy\"]", "",
            "[tool.flwr.app]", "publisher = \"pollen\"", "",
            "[tool.flwr.app.components]", "serverapp = \"pollenapps.server_app:app\"", "clientapp = \"pollenapps.client_app:app\"", "",
            "[tool.flwr.app.config]",
        ]
        for (key, value) in config.sorted(by: { $0.key < $1.key }) {
            guard let toml = tomlValue(value) else { continue }
            lines.append("\(tomlString(key)) = \(toml)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `value` as TOML, for the scalar types a Flower run configuration holds; `nil` for the others.
    private static func tomlValue(_ value: ConfigValue) -> String? {
        switch value {
        case .int(let number): return String(number)
        case .double(let number):
            if number.isNaN { return "nan" }
            if number.isInfinite { return number > 0 ? "inf" : "-inf" }
            let text = "\(number)"
            return text.contains(where: { $0 == "." || $0 == "e" }) ? text : text + ".0"
        case .bool(let flag): return flag ? "true" : "false"
        case .string(let text): return tomlString(text)
        default: return nil
        }
    }

    /// `text` as a TOML basic string.
    private static func tomlString(_ text: String) -> String { QuotedString.quoted(text) }

    /// The lowercase hex SHA-256 of `bytes`: what an object's id is, and what Flower names a bundle and its files by.
    private static func sha256(of bytes: [UInt8]) -> String { FlowerObject.hash(ByteBuffer(bytes: bytes)).rawValue }

    /// The ServerApp component Flower's bundle format requires; the SuperLink runs the real one itself.
    static let serverApp = #"""
        """Never started: a Pollen SuperLink runs its ServerApps itself."""

        from flwr.serverapp import ServerApp

        app = ServerApp()
        """#
}
