public import PollenCore

/// Typed, validated reads from a `UserConfig` (a run or node configuration), each failing with an error that
/// names the key.
public struct ConfigReader: Sendable {
    /// The configuration read from.
    public let config: UserConfig

    public init(_ config: UserConfig) { self.config = config }

    /// An integer in `range`, or `defaultValue` if the key is absent.
    public func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let raw = config[key] else { return defaultValue }
        guard let value = raw.intValue ?? raw.stringValue.flatMap({ Int($0) }) else {
            throw AppConfigError(key: key, message: "expected a whole number, got '\(raw)'")
        }
        guard range.contains(value) else {
            throw AppConfigError(key: key, message: "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// A finite number in `range`, or `defaultValue` if the key is absent.
    public func double(
        _ key: String, default defaultValue: Double, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    ) throws -> Double {
        guard let raw = config[key] else { return defaultValue }
        guard let value = raw.doubleValue ?? raw.stringValue.flatMap({ Double($0) }), value.isFinite else {
            throw AppConfigError(key: key, message: "expected a number, got '\(raw)'")
        }
        guard range.contains(value) else {
            throw AppConfigError(key: key, message: "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// A boolean, or `defaultValue` if the key is absent; accepts `true`/`false` and their strings.
    public func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let raw = config[key] else { return defaultValue }
        if let value = raw.boolValue { return value }
        switch raw.stringValue?.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw AppConfigError(key: key, message: "expected true or false, got '\(raw)'")
        }
    }

    /// A string, or `defaultValue` if the key is absent; when `allowed` is given, one of those.
    public func string(_ key: String, default defaultValue: String, allowed: [String]? = nil) throws -> String {
        guard let raw = config[key] else { return defaultValue }
        guard let value = raw.stringValue else {
            throw AppConfigError(key: key, message: "expected text, got '\(raw)'")
        }
        if let allowed, !allowed.contains(value) {
            throw AppConfigError(key: key, message: "must be one of \(allowed.joined(separator: ", ")), got '\(value)'")
        }
        return value
    }

    /// A list of positive integers, given as a list or as comma-separated text (`"64,32"`), or `defaultValue`.
    public func positiveIntList(_ key: String, default defaultValue: [Int]) throws -> [Int] {
        guard let raw = config[key] else { return defaultValue }
        let values: [Int]?
        switch raw {
        case .intList(let list): values = list.map { Int($0) }
        case .int(let value): values = [Int(value)]
        case .string(let text):
            let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            values = parts.contains(nil) ? nil : parts.map { $0! }
        default: values = nil
        }
        guard let values, !values.isEmpty, values.allSatisfy({ $0 > 0 }) else {
            throw AppConfigError(key: key, message: "expected positive whole numbers such as \"64,32\", got '\(raw)'")
        }
        return values
    }
}

import Foundation
