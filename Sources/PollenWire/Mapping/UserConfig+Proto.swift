public import PollenCore
import Foundation
import SwiftProtobuf

/// Run and node configurations on the wire: Flower's `map<string, Scalar>`, which holds single values only.
public enum UserConfigProto {
    /// The configuration as Flower's scalar map; lists, which a `Scalar` cannot hold, are dropped.
    public static func encode(_ config: UserConfig) -> [String: Flwr_Proto_Scalar] {
        config.compactMapValues { value -> Flwr_Proto_Scalar? in
            switch value {
            case .int(let number): .with { $0.sint64 = number }
            case .double(let number): .with { $0.double = number }
            case .bool(let flag): .with { $0.bool = flag }
            case .string(let text): .with { $0.string = text }
            case .bytes(let bytes): .with { $0.bytes = Data(bytes) }
            default: nil
            }
        }
    }

    /// The configuration in Flower's scalar map.
    public static func decode(_ scalars: [String: Flwr_Proto_Scalar]) -> UserConfig {
        scalars.compactMapValues { scalar -> ConfigValue? in
            switch scalar.scalar {
            case .double(let number): .double(number)
            case .sint64(let number): .int(number)
            case .uint64(let number): Int64(exactly: number).map(ConfigValue.int) ?? .double(Double(number))
            case .bool(let flag): .bool(flag)
            case .string(let text): .string(text)
            case .bytes(let bytes): .bytes([UInt8](bytes))
            case nil: nil
            }
        }
    }
}
