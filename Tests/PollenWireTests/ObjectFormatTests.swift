import PollenCore
import PollenWire
import Testing

@Suite struct ObjectFormatTests {
    /// The worked example of Flower's protocol notes, confirmed on the wire: a float32 zeros(8) array.
    @Test func matchesFlowersIDsForTheWorkedExample() throws {
        let tensor = try Tensor([Float](repeating: 0, count: 8), shape: [8])
        var content = RecordDict()
        content[arrays: "arrays"] = ["0": tensor]
        content[config: "config"] = ["server-round": 1]
        let encoded = try MessageCodec.encode(Message(content: content, destination: NodeID(123), type: .train))
        let ids = Set(encoded.objects.map(\.id.rawValue))
        #expect(ids.contains("a8f3b74d1fbda28da8c713092433b1eee4706d67ab53465695fc29a9263268fa")) // ArrayChunk
        #expect(ids.contains("07668819c855e68aa3117271324d962fa8e96201bdc7e930f07fdf119730f02f")) // Array
        #expect(ids.contains("e13ee2f2d66d834cc15108899e45decea50750032dec16c9c4a58c239d2b2790")) // ArrayRecord
        #expect(ids.contains("534ed7c522c7960a100d68971eb2984da96ba0725bb72c758b7dcda398047232")) // ConfigRecord
        #expect(ids.contains("6d9df8315ba5676cad36e293d4a6e8c91a3206aaf4d1621487a69b617ccc1180")) // RecordDict
    }
}
