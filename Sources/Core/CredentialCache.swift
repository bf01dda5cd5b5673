import Foundation
import Synchronization

/// The principals of bearer credentials this node resolved in the last few seconds, so that an
/// agent's requests do not each ask the database who they are (ADR 0014: the lookup was a
/// quarter of the database's work per case claimed, and a round trip per request).
///
/// Keyed by the credential's SHA-256 (the credential itself is never kept). Only successful
/// lookups are kept, each for `lifetime` at most. Every change to who may act made through
/// this node (logout, password change, user disabled, key revoked, creditor status, agent's
/// team) empties it at once (`invalidateAll`); a change made elsewhere (another node, the
/// database directly, a session's absolute expiry) takes effect within `lifetime`.
public final class CredentialCache: Sendable {
    struct Entry {
        let principal: Principal
        let until: ContinuousClock.Instant
    }

    public let lifetime: Duration
    let maxEntries: Int
    private let entries = Mutex<[[UInt8]: Entry]>([:])
    private let invalidations = Atomic<Int>(0)
    private let clock = ContinuousClock()

    /// Set for the duration of a request (`request(_:)`): marks that it changed who may act.
    final class Mark: Sendable {
        let changed = Atomic<Bool>(false)
    }
    @TaskLocal static var mark: Mark?

    /// - Parameter lifetime: how long a resolved credential is trusted without asking the
    ///   database again; zero turns the cache off.
    public init(lifetime: Duration, maxEntries: Int = 50_000) {
        self.lifetime = lifetime
        self.maxEntries = maxEntries
    }

    /// The principal of a credential resolved less than `lifetime` ago.
    public func principal(forKey key: [UInt8]) -> Principal? {
        guard lifetime > .zero else { return nil }
        let now = clock.now
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.until <= now {
                entries[key] = nil
                return nil
            }
            return entry.principal
        }
    }

    /// Read before a lookup and given back to `store`: a lookup that raced with an invalidation
    /// (it may have read what was just changed) is not kept.
    public var generation: Int { invalidations.load(ordering: .acquiring) }

    /// Keeps a credential's principal for `lifetime`, unless the cache was emptied since
    /// `generation` was read.
    public func store(_ principal: Principal, forKey key: [UInt8], ifGeneration generation: Int) {
        guard lifetime > .zero else { return }
        let until = clock.now.advanced(by: lifetime)
        entries.withLock { entries in
            guard invalidations.load(ordering: .acquiring) == generation else { return }
            // Full (a flood of distinct credentials): start again rather than grow.
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(principal: principal, until: until)
        }
    }

    /// Forgets every credential: the next request of each is looked up again. Called by the
    /// change itself, and again when the request that made it ends (`request(_:)`), after its
    /// transaction committed: a lookup in between may have read the state before the change.
    public func invalidateAll() {
        entries.withLock { entries in
            invalidations.add(1, ordering: .releasing)
            entries.removeAll()
        }
        Self.mark?.changed.store(true, ordering: .releasing)
    }

    /// Runs a request; if it changed who may act, empties the cache once more when it ends
    /// (its writes are then committed, also those of a request-wide transaction).
    public func request<T>(_ body: () async throws -> T) async throws -> T {
        let mark = Mark()
        defer {
            if mark.changed.load(ordering: .acquiring) {
                entries.withLock { entries in
                    invalidations.add(1, ordering: .releasing)
                    entries.removeAll()
                }
            }
        }
        return try await Self.$mark.withValue(mark) { try await body() }
    }

    public var count: Int { entries.withLock { $0.count } }

    /// A cache that keeps nothing (every request asks the database).
    public static let off = CredentialCache(lifetime: .zero)
}
