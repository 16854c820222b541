import Foundation
import Hummingbird
import NIOCore
import PollenCore
import PollenStore
import PollenWire
import SwiftProtobuf

/// A run's log as Flower's HTTP Control API streams it (`flwr run --stream`, `flwr log`): `StreamLogsResponse`
/// messages, each after its length as a 4-byte big-endian number, sent as lines arrive, until the run has finished
/// and every line is out, or the client goes. A quiet run gets an empty message every `keepAliveSeconds`, so that
/// a stream whose client has gone fails its next write and ends, and no stream lasts past `longestSeconds`.
enum LogStream {
    /// The media type a client accepts to get the stream (Flower's `PROTOBUF_STREAM_MEDIA_TYPE`).
    static let mediaType = "application/flower-protobuf-stream"
    /// Seconds between looks for new lines (Flower's `LOG_STREAM_INTERVAL`).
    static let intervalSeconds = 0.5
    /// Seconds of silence after which an empty message goes out.
    static let keepAliveSeconds = 5.0
    /// The longest a stream stays open (a client follows a longer run by asking again from its last timestamp).
    static let longestSeconds = 24 * 3_600.0

    /// Whether a request's `Accept` header takes the stream.
    static func isAccepted(by accept: String?) -> Bool {
        accept?.split(separator: ",").contains { $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) == mediaType } ?? false
    }

    /// The stream of the run `run`'s lines after `after`, read by `lines`.
    static func body(
        run: RunID, after: Double, state: any LinkState, lines: @escaping @Sendable (Double) async throws -> Flwr_Proto_StreamLogsResponse
    ) -> ResponseBody {
        ResponseBody { writer in
            let clock = ContinuousClock()
            let opened = clock.now
            var lastWrite = opened
            var timestamp = after
            while clock.now - opened < .seconds(longestSeconds) {
                // Whether the run had finished is read before its lines, so that none written before the end is missed.
                let finished = try await state.run(run)?.status.isFinished ?? true
                let next = try await lines(timestamp)
                if !next.logOutput.isEmpty || clock.now - lastWrite > .seconds(keepAliveSeconds) {
                    try await writer.write(frame(next))
                    timestamp = next.latestTimestamp
                    lastWrite = clock.now
                }
                if finished { break }
                try await Task.sleep(for: .seconds(intervalSeconds))
            }
            try await writer.finish(nil)
        }
    }

    /// `message` after its length.
    static func frame(_ message: Flwr_Proto_StreamLogsResponse) throws -> ByteBuffer {
        let payload: [UInt8] = try message.serializedBytes()
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(payload.count), endianness: .big)
        buffer.writeBytes(payload)
        return buffer
    }
}
