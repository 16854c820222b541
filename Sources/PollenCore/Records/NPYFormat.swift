import Foundation

/// NumPy's `.npy` format (versions 1–3, little-endian, C order): reads a file into a `Tensor` and writes one back.
///
/// The same bytes are Flower's `Array.data` (`stype` `"numpy.ndarray"`), so a model saved here opens with
/// `numpy.load`, and a tensor on the wire is exactly a `.npy` file.
public enum NPYFormat {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// What an `.npy` header says: the data's type and shape, and where the data starts.
    public struct Header: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        /// The offset of the first data byte.
        public var dataOffset: Int
        /// The data's length in bytes.
        public var dataByteCount: Int
    }

    /// The longest header read: NumPy writes at most 64 KiB in version 1 and rejects longer ones on reading.
    public static let maximumHeaderBytes = 65_536 + 12

    /// Parses the header at the start of `.npy` bytes (`bytes` may stop after the header); `fileName` names the
    /// source in errors.
    public static func header(_ bytes: some RandomAccessCollection<UInt8>, fileName: String) throws -> Header {
        func fail(_ problem: String) -> CoreError {
            CoreError(code: .invalidTensor, message: "'\(fileName)' is not a readable .npy file: \(problem)")
        }
        let bytes = Array(bytes.prefix(maximumHeaderBytes))
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("it does not start with the NPY magic string") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("the header is truncated") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail("format version \(major) is unknown (1, 2 and 3 are supported)")
        }
        guard bytes.count >= headerStart + headerLength else { throw fail("the header is truncated") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)

        guard let descr = value(of: "descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) else {
            throw fail("the header has no 'descr'")
        }
        if value(of: "fortran_order", in: header) == "True" {
            throw fail("it is stored in Fortran order; save it with numpy.ascontiguousarray first")
        }
        guard let shapeText = value(of: "shape", in: header) else { throw fail("the header has no 'shape'") }
        let shape = try shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .map { text -> Int in
                guard let extent = Int(text), extent >= 0 else { throw fail("shape \(shapeText) is not a tuple of sizes") }
                return extent
            }
        let dtype = try dtype(forDescr: descr, fail: fail)
        return Header(
            dtype: dtype, shape: shape, dataOffset: headerStart + headerLength,
            dataByteCount: try Tensor.byteCount(dtype: dtype, shape: shape)
        )
    }

    /// Parses `.npy` bytes; `fileName` names the source in errors.
    public static func decode(_ bytes: [UInt8], fileName: String) throws -> Tensor {
        let header = try header(bytes, fileName: fileName)
        let body = bytes[header.dataOffset...]
        guard body.count == header.dataByteCount else {
            throw CoreError(
                code: .invalidTensor,
                message: "'\(fileName)' is not a readable .npy file: shape \(header.shape) of \(header.dtype) needs "
                    + "\(header.dataByteCount) bytes of data, the file has \(body.count)"
            )
        }
        return try body.withUnsafeBytes { try Tensor(dtype: header.dtype, shape: header.shape, bytes: $0) }
    }

    /// Reads the `.npy` file at `path`.
    public static func read(path: String) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CoreError(code: .unreadableFile, message: "cannot read '\(path)': no such file or not readable")
        }
        return try decode([UInt8](data), fileName: path)
    }

    /// Encodes `tensor` as version 1.0 `.npy` bytes (header padded to 64 bytes, as NumPy writes it).
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        var bytes = header(for: tensor)
        tensor.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The version 1.0 `.npy` header that precedes `tensor`'s bytes in `encode(_:)`.
    public static func header(for tensor: Tensor) -> [UInt8] {
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(\(tensor.shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '\(descr(for: tensor.dtype))', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = magic.count + 4 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        return magic + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8)
    }

    /// Writes `tensor` to `path` as a `.npy` file.
    public static func write(_ tensor: Tensor, to path: String) throws {
        try Data(encode(tensor)).write(to: URL(fileURLWithPath: path))
    }

    private static let descrByDType: [DType: String] = [
        .float32: "<f4", .float64: "<f8", .float16: "<f2", .int8: "|i1", .int16: "<i2", .int32: "<i4", .int64: "<i8",
        .uint8: "|u1", .uint16: "<u2", .uint32: "<u4", .uint64: "<u8", .bool: "|b1",
    ]

    private static func descr(for dtype: DType) -> String { descrByDType[dtype] ?? "|V\(dtype.byteWidth)" }

    private static func dtype(forDescr descr: String, fail: (String) -> CoreError) throws -> DType {
        if descr.hasPrefix(">") { throw fail("dtype '\(descr)' is big-endian; save it little-endian (for example astype('<f4'))") }
        // A one-byte type may be written with either byte-order mark.
        let normalized = descr.replacingOccurrences(of: "=", with: "<")
        for (dtype, known) in descrByDType where known == normalized || known.dropFirst() == normalized.dropFirst() && dtype.byteWidth == 1 {
            return dtype
        }
        throw fail("dtype '\(descr)' is not supported; use float32, float64, integers or bool")
    }

    /// The text after `'key':` up to the next top-level comma, in a NumPy header dict.
    private static func value(of key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") else { return nil }
        var depth = 0
        var result = ""
        for character in header[keyRange.upperBound...] {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if (character == "," || character == "}") && depth == 0 { break }
            result.append(character)
        }
        return result.trimmingCharacters(in: .whitespaces)
    }
}
