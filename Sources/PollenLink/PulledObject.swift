import Hummingbird
public import NIOCore
import PollenStore
public import PollenWire

/// The answer to a pull of an object (Flower's `PullObjectResponse`), with the object's bytes beside the response
/// rather than in a `Data` copy of them: the HTTP body sends the stored object's own buffer.
public struct PulledObject: Sendable {
    /// Whether the object was found and is available; its object field is empty.
    public var response: Flwr_Proto_PullObjectResponse
    /// The object, when it is available.
    public var object: ByteBuffer?

    /// The answer for an object in `state`: not found, found but not here yet, or its bytes.
    init(_ state: ObjectState) {
        response = Flwr_Proto_PullObjectResponse()
        object = nil
        guard state != .unknown else { return }
        response.objectFound = true
        if case .available(let available) = state {
            response.objectAvailable = true
            object = available.buffer
        }
    }

    /// The HTTP body.
    func body() throws -> ResponseBody {
        ResponseBody(contentsOf: try ProtobufBody.parts(CarriedObject(response, object: object)))
    }
}
