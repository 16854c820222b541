/// A zip archive of files stored as they are (no compression), the same bytes for the same files: every entry
/// dated 1980-01-01 00:00 and readable by everyone (mode 0644). Enough for a Flower App Bundle, which Flower
/// reads with Python's `zipfile`.
enum StoredZip {
    /// The archive of `files` (path inside the archive, contents), in the order given.
    static func archive(_ files: [(path: String, contents: [UInt8])]) -> [UInt8] {
        var archive = [UInt8]()
        var directory = [UInt8]()
        for file in files {
            let name = Array(file.path.utf8)
            let crc = crc32(file.contents)
            let offset = archive.count
            // Local file header, then the data.
            archive.append(littleEndian: UInt32(0x0403_4B50))
            appendCommonFields(to: &archive, name: name, crc: crc, size: file.contents.count)
            archive.append(littleEndian: UInt16(0))  // extra field length
            archive += name
            archive += file.contents
            // Its central directory entry.
            directory.append(littleEndian: UInt32(0x0201_4B50))
            directory.append(littleEndian: UInt16(3 << 8 | 20))  // made by Unix, zip 2.0
            appendCommonFields(to: &directory, name: name, crc: crc, size: file.contents.count)
            directory.append(littleEndian: UInt16(0))  // extra field length
            directory.append(littleEndian: UInt16(0))  // comment length
            directory.append(littleEndian: UInt16(0))  // disk number
            directory.append(littleEndian: UInt16(0))  // internal attributes
            directory.append(littleEndian: UInt32(0o100644) << 16)  // external attributes: a regular file, 0644
            directory.append(littleEndian: UInt32(offset))
            directory += name
        }
        let directoryOffset = archive.count
        archive += directory
        // End of central directory.
        archive.append(littleEndian: UInt32(0x0605_4B50))
        archive.append(littleEndian: UInt16(0))
        archive.append(littleEndian: UInt16(0))
        archive.append(littleEndian: UInt16(files.count))
        archive.append(littleEndian: UInt16(files.count))
        archive.append(littleEndian: UInt32(directory.count))
        archive.append(littleEndian: UInt32(directoryOffset))
        archive.append(littleEndian: UInt16(0))  // comment length
        return archive
    }

    /// From "version needed" to the name's length: the fields a local header and a directory entry share.
    private static func appendCommonFields(to bytes: inout [UInt8], name: [UInt8], crc: UInt32, size: Int) {
        bytes.append(littleEndian: UInt16(20))  // version needed: 2.0
        bytes.append(littleEndian: UInt16(1 << 11))  // flags: the name is UTF-8
        bytes.append(littleEndian: UInt16(0))  // stored
        bytes.append(littleEndian: UInt16(0))  // time 00:00:00
        bytes.append(littleEndian: UInt16(1 << 5 | 1))  // date 1980-01-01
        bytes.append(littleEndian: crc)
        bytes.append(littleEndian: UInt32(size))  // compressed size
        bytes.append(littleEndian: UInt32(size))  // size
        bytes.append(littleEndian: UInt16(name.count))
    }

    /// The CRC-32 (ISO-HDLC, zip's) of `bytes`.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        (0..<8).reduce(UInt32(index)) { value, _ in value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
    }
}

extension [UInt8] {
    fileprivate mutating func append<Integer: FixedWidthInteger>(littleEndian value: Integer) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
