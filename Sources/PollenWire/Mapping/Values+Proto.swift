public import PollenCore
import SwiftProtobuf
import Foundation

// Values map to Flower's oneofs as Flower maps Python values: integers to sint64, doubles to double, booleans,
// strings and bytes to themselves, and homogeneous lists to the matching *List. A uint64 above Int64.max, which
// Python writes for integers that large, has no Pollen value and is rejected with a clear error.

extension MetricValue {
    /// Flower's `MetricRecordValue`.
    public var proto: Flwr_Proto_MetricRecordValue {
        var value = Flwr_Proto_MetricRecordValue()
        switch self {
        case .int(let number): value.sint64 = number
        case .double(let number): value.double = number
        case .intList(let numbers): value.sintList = .with { $0.vals = numbers }
        case .doubleList(let numbers): value.doubleList = .with { $0.vals = numbers }
        }
        return value
    }

    /// The value of a Flower `MetricRecordValue`.
    public init(proto: Flwr_Proto_MetricRecordValue, key: String) throws {
        switch proto.value {
        case .double(let number): self = .double(number)
        case .sint64(let number): self = .int(number)
        case .uint64(let number): self = .int(try signed(number, key: key))
        case .doubleList(let list): self = .doubleList(list.vals)
        case .sintList(let list): self = .intList(list.vals)
        case .uintList(let list): self = .intList(try list.vals.map { try signed($0, key: key) })
        case nil: throw WireError(code: .invalidMessage, message: "metric '\(key)' has no value")
        }
    }
}

extension ConfigValue {
    /// Flower's `ConfigRecordValue`.
    public var proto: Flwr_Proto_ConfigRecordValue {
        var value = Flwr_Proto_ConfigRecordValue()
        switch self {
        case .int(let number): value.sint64 = number
        case .double(let number): value.double = number
        case .bool(let flag): value.bool = flag
        case .string(let text): value.string = text
        case .bytes(let bytes): value.bytes = Data(bytes)
        case .intList(let numbers): value.sintList = .with { $0.vals = numbers }
        case .doubleList(let numbers): value.doubleList = .with { $0.vals = numbers }
        case .boolList(let flags): value.boolList = .with { $0.vals = flags }
        case .stringList(let texts): value.stringList = .with { $0.vals = texts }
        case .bytesList(let list): value.bytesList = .with { $0.vals = list.map { Data($0) } }
        }
        return value
    }

    /// The value of a Flower `ConfigRecordValue`.
    public init(proto: Flwr_Proto_ConfigRecordValue, key: String) throws {
        switch proto.value {
        case .double(let number): self = .double(number)
        case .sint64(let number): self = .int(number)
        case .uint64(let number): self = .int(try signed(number, key: key))
        case .bool(let flag): self = .bool(flag)
        case .string(let text): self = .string(text)
        case .bytes(let bytes): self = .bytes([UInt8](bytes))
        case .doubleList(let list): self = .doubleList(list.vals)
        case .sintList(let list): self = .intList(list.vals)
        case .uintList(let list): self = .intList(try list.vals.map { try signed($0, key: key) })
        case .boolList(let list): self = .boolList(list.vals)
        case .stringList(let list): self = .stringList(list.vals)
        case .bytesList(let list): self = .bytesList(list.vals.map { [UInt8]($0) })
        case nil: throw WireError(code: .invalidMessage, message: "config value '\(key)' has no value")
        }
    }
}

private func signed(_ value: UInt64, key: String) throws -> Int64 {
    guard let result = Int64(exactly: value) else {
        throw WireError(code: .invalidMessage, message: "'\(key)' holds \(value), above the largest integer Pollen keeps (2^63 - 1)")
    }
    return result
}
