import App
import Core
import Foundation
import HummingbirdTesting
import Identity
import Postgres
import TestSupport
import Testing

/// A node remembers who a bearer is for a few seconds (`RELANCE_CREDENTIAL_CACHE_S`): a change
/// to who may act made through the node takes effect at once; one made behind its back, within
/// the cache's lifetime (Docs/security.md, "Sessions").
@Suite("Credentials remembered by a node")
struct CredentialCacheTests {
    @Test func changesMadeThroughTheNodeTakeEffectAtOnce() async throws {
        try await withRouter { client, fixtures, _, _ in
            // setup: an agent and a creditor's user, each seen once (remembered)
            let admin = try await fixtures.user(.admin)
            let adminToken = try await client.login(admin)
            let agent = try await fixtures.user(.agent)
            let agentToken = try await client.login(agent)
            #expect(try await client.call(.get, "/v1/me", bearer: agentToken).status == 200)
            // act + verify: disabled through the API, refused on the very next request
            let disabled = try await client.call(.post, "/v1/staff/\(agent.id.uuidString.lowercased())/disable", bearer: adminToken)
            #expect(disabled.status == 204)
            #expect(try await client.call(.get, "/v1/me", bearer: agentToken).status == 401)
            // a password change ends the other sessions at once too
            let supervisor = try await fixtures.user(.supervisor)
            let first = try await client.login(supervisor)
            let second = try await client.login(supervisor)
            #expect(try await client.call(.get, "/v1/me", bearer: second).status == 200)
            let changed = try await client.call(
                .post, "/v1/auth/password", bearer: first,
                json: ["currentPassword": Fixtures.password, "newPassword": "Une toute nouvelle phrase de passe"])
            #expect(changed.status == 204)
            #expect(try await client.call(.get, "/v1/me", bearer: second).status == 401)
        }
    }

    @Test func aChangeBehindTheNodesBackTakesEffectWithinTheLifetime() async throws {
        try await TestApp.withApp { configuration, pool, database in
            let fixtures = try Fixtures(database)
            let agent = try await fixtures.user(.agent)
            let cache = CredentialCache(lifetime: .milliseconds(400))
            let identity = IdentityService(pool: pool, secrets: try SecretBox(base64Key: configuration.dataKey), credentials: cache)
            let session = try await identity.login(email: agent.email, password: Fixtures.password, totp: nil, clientAddress: "test", requestID: nil)
            #expect(try await identity.authenticate(bearer: session.token)?.id == agent.id)
            // act: revoked in the database directly (another node, an operator)
            try await fixtures.admin.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = \(agent.id)")
            // verify: remembered until the lifetime ends, then refused
            #expect(try await identity.authenticate(bearer: session.token)?.id == agent.id)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await identity.authenticate(bearer: session.token) == nil)
            // unknown bearers are never remembered
            #expect(try await identity.authenticate(bearer: "rls_unknown") == nil)
            #expect(cache.count == 0)
            try await fixtures.close()
        }
    }

    @Test func aLookupThatRacedWithAChangeIsNotKept() async throws {
        let cache = CredentialCache(lifetime: .seconds(60))
        let principal = Principal(kind: .staff, id: UUID(), role: .agent)
        // a lookup starts, a change empties the cache, the lookup ends: not kept
        let generation = cache.generation
        cache.invalidateAll()
        cache.store(principal, forKey: [1], ifGeneration: generation)
        #expect(cache.principal(forKey: [1]) == nil)
        // a request that changed who may act empties the cache again when it ends, after an
        // entry was stored in between (a lookup that read the state before the commit)
        _ = try await cache.request {
            cache.invalidateAll()
            cache.store(principal, forKey: [2], ifGeneration: cache.generation)
            #expect(cache.principal(forKey: [2]) == principal)
        }
        #expect(cache.principal(forKey: [2]) == nil)
        // a request that changed nothing leaves the cache as it was
        cache.store(principal, forKey: [3], ifGeneration: cache.generation)
        _ = try await cache.request { 0 }
        #expect(cache.principal(forKey: [3]) == principal)
        // off: nothing kept
        CredentialCache.off.store(principal, forKey: [4], ifGeneration: CredentialCache.off.generation)
        #expect(CredentialCache.off.principal(forKey: [4]) == nil)
    }
}
