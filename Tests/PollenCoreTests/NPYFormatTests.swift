import PollenCore
import Testing

@Suite struct NPYFormatTests {
    @Test func roundTripsEveryCommonDType() throws {
        let tensors = [
            try Tensor([1.5, -2, 3] as [Float], shape: [3]),
            try Tensor([1, 2, 3, 4, 5, 6] as [Double], shape: [2, 3]),
            try Tensor([7, 8] as [Int64]),
            try Tensor([1, 0, 255] as [UInt8]),
            try Tensor([true, false]),
        ]
        for tensor in tensors {
            let bytes = NPYFormat.encode(tensor)
            // NumPy pads the header so the data starts on a 64-byte boundary.
            let headerLength = Int(bytes[8]) + Int(bytes[9]) * 256
            #expect((10 + headerLength) % 64 == 0)
            #expect(try NPYFormat.decode(bytes, fileName: "t.npy") == tensor)
        }
    }

    @Test func aHostileShapeIsAnErrorNotACrash() {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 2), }"
        let bytes = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
        #expect(throws: CoreError.self) { try NPYFormat.decode(bytes, fileName: "hostile.npy") }
    }

    @Test func rejectsGarbageAndFortranOrder() {
        #expect(throws: CoreError.self) { try NPYFormat.decode(Array("not numpy".utf8), fileName: "bad.npy") }
        let header = "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }"
        let bytes = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [0, 0, 0, 0]
        let error = #expect(throws: CoreError.self) { try NPYFormat.decode(bytes, fileName: "f.npy") }
        #expect(error?.message.contains("Fortran") == true)
    }
}
