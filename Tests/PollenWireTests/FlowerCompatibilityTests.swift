import Foundation
import NIOCore
import PollenCore
import PollenWire
import Testing

/// Messages encoded by Flower 1.42 itself decode in Pollen, and Pollen re-encodes them to the same objects, byte
/// for byte: the same message has the same ids on both sides.
@Suite(.enabled(if: FlowerOracle.isAvailable, "Flower 1.42 could not be installed (scripts/flower-venv failed); wire oracle tests skipped"))
struct FlowerCompatibilityTests {
    struct Case {
        var name: String
        var messageID: ObjectID
        var objects: [ObjectID: FlowerObject]
    }

    static let cases: [Case] = {
        guard FlowerOracle.isAvailable, let data = try? FlowerOracle.runScript("flower_messages.py"),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return list.map { entry in
            let objects = (entry["objects"] as! [String: String]).map { id, base64 in
                (ObjectID(id), try! FlowerObject(validating: ByteBuffer(bytes: Data(base64Encoded: base64)!), expectedID: ObjectID(id)))
            }
            return Case(name: entry["name"] as! String, messageID: ObjectID(entry["message_id"] as! String),
                        objects: Dictionary(uniqueKeysWithValues: objects))
        }
    }()

    func message(_ name: String) throws -> (Case, PollenCore.Message) {
        let flower = try #require(Self.cases.first { $0.name == name }, "Flower's oracle produced no case '\(name)'")
        return (flower, try MessageCodec.decode(root: flower.messageID) { flower.objects[$0] })
    }

    @Test func everyCaseRoundTripsToFlowersObjects() throws {
        #expect(Self.cases.count == 6)
        for flower in Self.cases {
            let decoded = try MessageCodec.decode(root: flower.messageID) { flower.objects[$0] }
            #expect(decoded.metadata.messageID.rawValue == flower.messageID.rawValue, "\(flower.name)")
            let encoded = try MessageCodec.encode(decoded)
            #expect(encoded.root == flower.messageID, "\(flower.name): Pollen's id differs from Flower's")
            #expect(Set(encoded.objects.map(\.id)) == Set(flower.objects.keys), "\(flower.name): object sets differ")
            for object in encoded.objects {
                #expect(object.bytes == flower.objects[object.id]?.bytes, "\(flower.name): bytes of \(object.type) differ")
            }
        }
    }

    @Test func modelAndConfigDecodeToTheirValues() throws {
        let (_, message) = try message("model and config")
        let arrays = try #require(message.content?[arrays: "arrays"])
        #expect(arrays.keys == ["weight", "bias"])
        #expect(arrays["weight"]?.shape == [10, 64])
        #expect(arrays["weight"]?.dtype == .float32)
        let config = try #require(message.content?[config: "config"])
        #expect(config["server-round"] == .int(3))
        #expect(config["blob"] == .bytes([0, 1]))
        #expect(config["flags"] == .boolList([true, false]))
        #expect(message.metadata.sourceTaskID == 7)
        #expect(message.metadata.groupID == "3")
    }

    @Test func everyDTypeAndShapeDecodes() throws {
        let (_, message) = try message("every dtype")
        let arrays = try #require(message.content?[arrays: "arrays"])
        #expect(try arrays["i64"]?.scalars(as: Int64.self) == [-1, 1 << 40])
        #expect(try arrays["b"]?.scalars(as: Bool.self) == [true, false, true])
        #expect(arrays["scalar"]?.shape == [])
        #expect(arrays["empty"]?.shape == [0, 4])
        #expect(try arrays["f64"]?.scalars(as: Double.self) == [0, 1, 2, 3, 4, 5])
    }

    @Test func repliesAndErrorsKeepTheirMetadata() throws {
        let (_, reply) = try message("reply with metrics")
        #expect(reply.metadata.replyTo?.rawValue == String(repeating: "ab", count: 32))
        #expect(reply.metadata.destinationTaskID == 7)
        #expect(reply.metadata.sourceTaskID == nil)
        #expect(reply.content?[metrics: "metrics"]?["per-class"] == .doubleList([0.5, 0.25]))
        #expect(reply.content?[config: "näme ünicode \"quoted\""]?["kéy"] == .string("välue 😀"))
        let (_, failed) = try message("error reply")
        #expect(failed.error == MessageError(code: .clientAppRaisedException, reason: "ClientApp raised: boom"))
    }

    @Test func aChunkedArrayReassembles() throws {
        let (flower, message) = try message("chunked array")
        #expect(flower.objects.values.filter { $0.type == .arrayChunk }.count == 3)
        let big = try #require(message.content?[arrays: "arrays"]?["big"]).scalars(as: Float.self)
        #expect(big.count == 5 * (1 << 18) * 2 + (1 << 19))
        #expect(big.first == 0 && big.last == 1)
    }
}
