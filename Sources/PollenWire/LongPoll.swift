/// Pollen's extension to Flower's pull requests: a puller that would otherwise poll asks the server to hold the
/// request until something arrives for it, up to a number of seconds, in a request header. A server that honours
/// the wait says so with the same header on its answer; a server that does not (Flower's) answers at once, so
/// the puller, seeing no header, pauses before its next pull as before.
///
/// Used by SuperNodes on `pull-messages` and `pull-object` of the Fleet API, and by ServerApp processes on the
/// runtime API's `pull-messages`.
public enum LongPoll {
    /// The header naming the longest wait, in seconds, on a request; the wait allowed, on an answer.
    public static let header = "pollen-wait-seconds"

    /// The wait a request asks for: a number of seconds in the header, or 0 when it asks for none or for nonsense.
    public static func requestedSeconds(_ value: String?) -> Double {
        guard let value, let seconds = Double(value), seconds.isFinite, seconds > 0 else { return 0 }
        return seconds
    }
}
