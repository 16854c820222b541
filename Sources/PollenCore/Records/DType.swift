/// The element type of a `Tensor`, named as NumPy names it so that Flower peers read it unchanged.
///
/// An open set: the common types are static members, and a peer's other dtypes can be carried by name.
public struct DType: Hashable, Sendable, CustomStringConvertible {
    /// NumPy's name for the type (`"float32"`).
    public let name: String
    /// Bytes per element.
    public let byteWidth: Int

    public init(name: String, byteWidth: Int) {
        self.name = name
        self.byteWidth = byteWidth
    }

    public static let float32 = DType(name: "float32", byteWidth: 4)
    public static let float64 = DType(name: "float64", byteWidth: 8)
    public static let float16 = DType(name: "float16", byteWidth: 2)
    public static let int8 = DType(name: "int8", byteWidth: 1)
    public static let int16 = DType(name: "int16", byteWidth: 2)
    public static let int32 = DType(name: "int32", byteWidth: 4)
    public static let int64 = DType(name: "int64", byteWidth: 8)
    public static let uint8 = DType(name: "uint8", byteWidth: 1)
    public static let uint16 = DType(name: "uint16", byteWidth: 2)
    public static let uint32 = DType(name: "uint32", byteWidth: 4)
    public static let uint64 = DType(name: "uint64", byteWidth: 8)
    public static let bool = DType(name: "bool", byteWidth: 1)

    /// The dtypes Pollen knows by name.
    public static let known: [DType] = [
        .float32, .float64, .float16, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool,
    ]

    /// The known dtype with this NumPy name, or `nil`.
    public init?(named name: String) {
        guard let match = DType.known.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}

/// A Swift type whose values a `Tensor` can hold, with its dtype.
public protocol TensorElement: Sendable {
    /// The dtype of this element type.
    static var dtype: DType { get }
}

extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int8: TensorElement { public static var dtype: DType { .int8 } }
extension Int16: TensorElement { public static var dtype: DType { .int16 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension UInt16: TensorElement { public static var dtype: DType { .uint16 } }
extension UInt32: TensorElement { public static var dtype: DType { .uint32 } }
extension UInt64: TensorElement { public static var dtype: DType { .uint64 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
