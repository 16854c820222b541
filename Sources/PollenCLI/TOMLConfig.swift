import PollenCore
import Foundation
import TOMLKit

/// Reading configuration values from TOML text and from `key=value` overrides.
enum TOMLConfig {
    /// The tables `[app.config]` and `[simulation]` of a `pollen.toml`, as flat key–value maps.
    static func parse(_ text: String, source: String) throws -> (app: UserConfig, simulation: UserConfig) {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw CLIError("\(source): invalid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        for key in root.keys where !["app", "simulation"].contains(key) {
            throw CLIError("\(source): unknown table [\(key)]; a pollen.toml has [app], [app.config] and [simulation]")
        }
        let app = try root["app"]?.table?["config"]?.table.map { try values(of: $0, table: "app.config", source: source) } ?? [:]
        let simulation = try root["simulation"]?.table.map { try values(of: $0, table: "simulation", source: source) } ?? [:]
        return (app, simulation)
    }

    /// Parses `key=value`: an integer, a number, `true`/`false`, or text (optionally in double quotes).
    static func override(_ assignment: String) throws -> (key: String, value: ConfigValue) {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
            throw CLIError("--run-config expects key=value, got '\(assignment)'")
        }
        let key = assignment[..<equals].trimmingCharacters(in: .whitespaces)
        let text = assignment[assignment.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        return (key, scalar(text))
    }

    /// The value `text` denotes on a command line.
    static func scalar(_ text: String) -> ConfigValue {
        if let int = Int64(text) { return .int(int) }
        if let double = Double(text), double.isFinite { return .double(double) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { return .string(String(text.dropFirst().dropLast())) }
        return .string(text)
    }

    private static func values(of table: TOMLTable, table name: String, source: String) throws -> UserConfig {
        var config = UserConfig()
        for key in table.keys {
            let value = table[key]!
            if let int = value.int {
                config[key] = .int(Int64(int))
            } else if let double = value.double {
                config[key] = .double(double)
            } else if let bool = value.bool {
                config[key] = .bool(bool)
            } else if let string = value.string {
                config[key] = .string(string)
            } else if let array = value.array {
                let items = Array(array)
                let ints = items.compactMap(\.int)
                let doubles = items.compactMap { $0.double ?? $0.int.map(Double.init) }
                let strings = items.compactMap(\.string)
                if ints.count == items.count {
                    config[key] = .intList(ints.map { Int64($0) })
                } else if doubles.count == items.count {
                    config[key] = .doubleList(doubles)
                } else if strings.count == items.count {
                    config[key] = .stringList(strings)
                } else {
                    throw CLIError("\(source): [\(name)] \(key) must be a list of numbers or of strings")
                }
            } else {
                throw CLIError("\(source): [\(name)] \(key) must be a number, boolean, string or list")
            }
        }
        return config
    }
}

/// An error of the command line: a message that says what is wrong and how to fix it.
public struct CLIError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
