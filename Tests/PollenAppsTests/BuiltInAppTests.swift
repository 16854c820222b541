@testable import PollenApps
import PollenCore
import Testing

@Suite struct BuiltInAppTests {
    @Test func theRunConfigurationChoosesTheApp() throws {
        #expect(try BuiltInApp(runConfig: [:]) == .tabular)
        #expect(try BuiltInApp(runConfig: ["app": "model-transfer"]) == .modelTransfer)
        let error = #expect(throws: AppConfigError.self) { try BuiltInApp(runConfig: ["app": "nonsense"]) }
        #expect(error?.description.contains("model-transfer") == true)
    }

    @Test func theModelTransferClientAppReturnsTheModelPlusItsStep() async throws {
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor([Float](repeating: 1, count: 1_000))]
        let message = Message(content: content, destination: NodeID(7), type: .train)
        var context = Context(runID: RunID(1), nodeID: NodeID(7), runConfig: ["app": "model-transfer"])
        let reply = await BuiltInApp.clientApp { _ in throw AppConfigError(key: "data", message: "unused") }
            .handle(message, context: &context)
        let values = try #require(reply.content?[arrays: "arrays"]?["w"]).scalars(as: Float.self)
        #expect(values.allSatisfy { $0 == 1 + ModelTransferApp.step })
        #expect(reply.content?[metrics: "metrics"]?["num-examples"] == 1)
    }

    @Test func theModelTransferConfigNamesUnknownAndInvalidKeys() {
        let unknown = #expect(throws: AppConfigError.self) { try ModelTransferConfig(runConfig: ["model": "mlp"]) }
        #expect(unknown?.description.contains("model") == true)
        let invalid = #expect(throws: AppConfigError.self) { try ModelTransferConfig(runConfig: ["model-parameters": 0]) }
        #expect(invalid?.description.contains("model-parameters") == true)
        let model = #expect(throws: AppConfigError.self) { try ModelTransferConfig(runConfig: ["initial-model": "ones"]) }
        #expect(model?.description.contains("initial-model") == true)
    }

    /// The initial model is zeros unless the run asks for random values, which are the same in every run.
    @Test func theModelTransferAppStartsFromZerosOrTheSameRandomModel() async throws {
        #expect(try !ModelTransferConfig(runConfig: [:]).randomInitialModel)
        let random = try ModelTransferConfig(runConfig: ["initial-model": "random", "model-parameters": 1_000])
        #expect(random.randomInitialModel)
        let first = try ModelTransferApp.initialModel(random), second = try ModelTransferApp.initialModel(random)
        let values = try #require(first[ModelTransferApp.arrayName]).scalars(as: Float.self)
        #expect(first == second && Set(values).count > 990 && values.allSatisfy { (-1...1).contains($0) })
        let zeros = try ModelTransferApp.initialModel(ModelTransferConfig(runConfig: ["model-parameters": 1_000]))
        #expect(try #require(zeros[ModelTransferApp.arrayName]).scalars(as: Float.self) == [Float](repeating: 0, count: 1_000))
    }
}
