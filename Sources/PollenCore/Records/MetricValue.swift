/// A value in a `MetricRecord`: an integer, a double, or a list of either (Flower's `MetricRecordValue`).
public enum MetricValue: Sendable, Hashable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    case int(Int64)
    case double(Double)
    case intList([Int64])
    case doubleList([Double])

    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }

    /// The value as a `Double` when it is a single number.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        case .intList, .doubleList: nil
        }
    }

    /// The value as a list of `Double`s when it is a list.
    public var doubleListValue: [Double]? {
        switch self {
        case .intList(let values): values.map(Double.init)
        case .doubleList(let values): values
        case .int, .double: nil
        }
    }
}
