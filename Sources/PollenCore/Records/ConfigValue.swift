/// A value in a `ConfigRecord` or a run/node configuration (Flower's `ConfigRecordValue` and `UserConfigValue`).
public enum ConfigValue: Sendable, Hashable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByStringLiteral
{
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case string(String)
    case bytes([UInt8])
    case intList([Int64])
    case doubleList([Double])
    case boolList([Bool])
    case stringList([String])
    case bytesList([[UInt8]])

    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(stringLiteral value: String) { self = .string(value) }

    /// The value as an integer, when it is one (a double with no fractional part counts).
    public var intValue: Int? {
        switch self {
        case .int(let value): Int(exactly: value)
        case .double(let value): Int(exactly: value)
        default: nil
        }
    }

    /// The value as a double, when it is a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The value as a boolean, when it is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The value as a string, when it is one.
    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The value as a list of doubles, when it is a list of numbers.
    public var doubleListValue: [Double]? {
        switch self {
        case .doubleList(let values): values
        case .intList(let values): values.map(Double.init)
        default: nil
        }
    }
}

extension ConfigValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .bool(let value): String(value)
        case .string(let value): value
        case .bytes(let value): "<\(value.count) bytes>"
        case .intList(let values): "\(values)"
        case .doubleList(let values): "\(values)"
        case .boolList(let values): "\(values)"
        case .stringList(let values): "\(values)"
        case .bytesList(let values): "<\(values.count) byte strings>"
        }
    }
}
