import PollenCore
import Testing

@Suite struct RecordTests {
    @Test func recordsKeepInsertionOrder() throws {
        var arrays = ArrayRecord()
        arrays["z"] = try Tensor([1] as [Float])
        arrays["a"] = try Tensor([2] as [Float])
        arrays["m"] = try Tensor([3] as [Float])
        #expect(arrays.keys == ["z", "a", "m"])
        arrays["z"] = nil
        #expect(arrays.keys == ["a", "m"])
        #expect(arrays.elementCount == 2)
    }

    @Test func metricAndConfigValues() {
        let metrics: MetricRecord = ["num-examples": 120, "loss": 0.25, "per-class": .doubleList([0.5, 1])]
        #expect(metrics["num-examples"]?.doubleValue == 120)
        #expect(metrics["per-class"]?.doubleListValue == [0.5, 1])
        #expect(metrics["per-class"]?.doubleValue == nil)
        let config: ConfigRecord = ["lr": 0.1, "epochs": 2, "name": "fedavg", "flag": true, "blob": .bytes([1, 2])]
        #expect(config["epochs"]?.intValue == 2)
        #expect(config["lr"]?.doubleValue == 0.1)
        #expect(config["name"]?.stringValue == "fedavg")
        #expect(config["flag"]?.boolValue == true)
        #expect(config["name"]?.doubleValue == nil)
    }

    @Test func recordDictTypedAccess() throws {
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor([1, 2] as [Float])]
        content[metrics: "metrics"] = ["num-examples": 10]
        content[config: "config"] = ["lr": 0.1]
        #expect(content.keys == ["arrays", "metrics", "config"])
        #expect(content[arrays: "metrics"] == nil)
        #expect(content[metrics: "metrics"]?["num-examples"] == 10)
        #expect(content.metricRecords.count == 1)
        #expect(content.arrayRecords.map(\.key) == ["arrays"])
    }
}

@Suite struct MessageTests {
    @Test func replySwapsTheAddressesAndPointsBack() {
        var instruction = Message(content: RecordDict(), destination: NodeID(7), type: .train, groupID: "3")
        instruction.metadata.messageID = MessageID("abc")
        instruction.metadata.runID = RunID(9)
        let reply = instruction.reply(content: RecordDict())
        #expect(reply.metadata.source == NodeID(7))
        #expect(reply.metadata.destination == .superLink)
        #expect(reply.metadata.replyTo == MessageID("abc"))
        #expect(reply.metadata.runID == RunID(9))
        #expect(reply.metadata.groupID == "3")
        #expect(reply.metadata.type == .train)
        #expect(!reply.hasError)
        let failed = instruction.reply(error: MessageError(code: .clientAppCrashed, reason: "boom"))
        #expect(failed.hasError)
        #expect(failed.content == nil)
        #expect(failed.error?.code.rawValue == 8)
    }

    @Test func messageTypesAreAnOpenSet() {
        #expect(MessageType("train.fedprox") != .train)
        #expect(MessageType("query") == .query)
        #expect(MessageType("stats").rawValue == "stats")
    }
}

@Suite struct ClientAppTests {
    func instruction(_ type: MessageType) -> Message {
        Message(content: ["config": .config(["x": 1])], destination: NodeID(5), type: type)
    }

    @Test func runsTheHandlerAndKeepsState() async {
        var app = ClientApp()
        app.on(.train) { message, context in
            let seen = (context.state[metrics: "count"]?["n"]?.doubleValue ?? 0) + 1
            context.state[metrics: "count"] = ["n": .double(seen)]
            return ["metrics": .metrics(["seen": .double(seen)])]
        }
        var context = Context(runID: RunID(1), nodeID: NodeID(5))
        _ = await app.handle(instruction(.train), context: &context)
        let reply = await app.handle(instruction(.train), context: &context)
        #expect(reply.content?[metrics: "metrics"]?["seen"]?.doubleValue == 2)
    }

    @Test func aMissingHandlerIsAFailedReplyNotACrash() async {
        let app = ClientApp()
        var context = Context(runID: RunID(1), nodeID: NodeID(5))
        let reply = await app.handle(instruction(.evaluate), context: &context)
        #expect(reply.error?.code == .clientAppRaisedException)
        #expect(reply.error?.reason.contains("evaluate") == true)
    }

    @Test func aThrowingHandlerIsAFailedReply() async {
        struct Broken: Error {}
        var app = ClientApp()
        app.on(.train) { _, _ in throw Broken() }
        var context = Context(runID: RunID(1), nodeID: NodeID(5))
        let reply = await app.handle(instruction(.train), context: &context)
        #expect(reply.error?.code == .clientAppRaisedException)
    }
}
