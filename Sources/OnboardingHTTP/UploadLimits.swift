import Core
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// How many placement uploads stream at once on this node, overall and per creditor. An upload
/// holds a database connection for as long as its file comes in: without a bound, a few slow
/// uploads would take every connection and every other caller would wait (503).
final class UploadGate: Sendable {
    struct Limits: Sendable {
        var overall: Int
        var perCreditor: Int
    }

    let limits: Limits
    private let running = Mutex<(total: Int, byCreditor: [UUID: Int])>((0, [:]))

    init(limits: Limits) {
        self.limits = limits
    }

    /// Takes a place for an upload of `creditor`, or says why not: 429 when the creditor has
    /// its share streaming, 503 when the node has.
    func admit(_ creditor: UUID) throws -> Permit {
        let refusal: Problem? = running.withLock { state in
            if state.byCreditor[creditor, default: 0] >= limits.perCreditor {
                return Problem(
                    status: 429, code: "too-many-uploads", title: "Too many uploads at once",
                    detail: "This creditor already has \(limits.perCreditor) upload(s) coming in; send the next one when one is done.",
                    retryAfter: 30)
            }
            if state.total >= limits.overall {
                return Problem(
                    status: 503, code: "uploads-busy", title: "Uploads busy",
                    detail: "The server is receiving as many uploads as it takes at once; try again shortly.", retryAfter: 10)
            }
            state.total += 1
            state.byCreditor[creditor, default: 0] += 1
            return nil
        }
        if let refusal { throw refusal }
        return Permit(gate: self, creditor: creditor)
    }

    fileprivate func release(_ creditor: UUID) {
        running.withLock { state in
            state.total -= 1
            let left = state.byCreditor[creditor, default: 1] - 1
            state.byCreditor[creditor] = left > 0 ? left : nil
        }
    }

    /// A place taken; given back by `release()` (once).
    final class Permit: Sendable {
        let gate: UploadGate
        let creditor: UUID
        private let released = Atomic<Bool>(false)

        init(gate: UploadGate, creditor: UUID) {
            self.gate = gate
            self.creditor = creditor
        }

        func release() {
            if !released.exchange(true, ordering: .acquiringAndReleasing) { gate.release(creditor) }
        }
    }
}

/// The pace of one upload, judged only over the time the server waits for the client (time the
/// server spends writing to PostgreSQL, with the client held back by TCP, does not count).
/// Too slow: one wait for a chunk longer than the window, or, once the waits add up to the
/// window, fewer bytes than the minimum rate over them.
final class UploadPace: Sendable {
    struct TooSlow: Error {}

    let minBytesPerSecond: Int
    let window: Duration
    private let clock = ContinuousClock()
    private let state: Mutex<State>

    private struct State {
        var bytes = 0
        var waited: Duration = .zero
        var waitingSince: ContinuousClock.Instant?
        var finished = false
    }

    init(minBytesPerSecond: Int, window: Duration) {
        self.minBytesPerSecond = minBytesPerSecond
        self.window = window
        self.state = Mutex(State())
    }

    func startWaiting() {
        let now = clock.now
        state.withLock { $0.waitingSince = now }
    }

    func received(_ count: Int) {
        let now = clock.now
        state.withLock { state in
            if let since = state.waitingSince { state.waited += now - since }
            state.waitingSince = nil
            state.bytes += count
        }
    }

    func finish() {
        state.withLock { $0.finished = true }
    }

    /// Whether the upload is too slow now.
    var isTooSlow: Bool {
        let now = clock.now
        return state.withLock { state in
            if state.finished { return false }
            let current = state.waitingSince.map { now - $0 } ?? .zero
            if current > window { return true }
            let waited = state.waited + current
            guard waited >= window else { return false }
            let seconds = Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18
            return Double(state.bytes) < Double(minBytesPerSecond) * seconds
        }
    }

    /// Returns when the upload finished; throws `TooSlow` as soon as it is too slow.
    func watch() async throws {
        while true {
            try await Task.sleep(for: .milliseconds(250))
            if state.withLock({ $0.finished }) { return }
            if isTooSlow { throw TooSlow() }
        }
    }
}

/// A request body read through an `UploadPace`, as byte arrays. Ends with an error, never
/// early, when its task is cancelled: a cut-off file must not look like a complete one.
struct PacedBody: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let base: RequestBody
    let pace: UploadPace

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let pace: UploadPace

        mutating func next() async throws -> [UInt8]? {
            pace.startWaiting()
            let chunk = try await base.next()
            try Task.checkCancellation()
            guard let chunk else {
                pace.received(0)
                pace.finish()
                return nil
            }
            pace.received(chunk.readableBytes)
            return Array(buffer: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), pace: pace)
    }
}
