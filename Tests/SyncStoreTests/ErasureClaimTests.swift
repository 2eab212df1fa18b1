import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

/// A sync and an `erase` running at once never both send a subject's GDPR deletes: the claim is taken in a
/// store transaction, and once sent only the verification is left.
@Test func onlyOneRunAtATimeClaimsSendingAnErasuresDeletes() throws {
    let fixture = try StoreFixture()
    let aino = email("aino@example.fi")
    _ = try fixture.store.recordErasureRequest(email: aino, requestId: "r1", reason: nil)
    try fixture.store.eraseLocally(requestId: "r1")
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .claimed)
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .heldByAnother)
    // A second request joining meanwhile does not free the claim.
    _ = try fixture.store.recordErasureRequest(email: aino, requestId: "r2", reason: nil)
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .heldByAnother)
    try fixture.store.updateErasure("r1", state: .sent)
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .alreadySent)
}

/// A claim whose holder was killed while sending is taken over once it lapses (the taker reads the CRM first).
@Test func aClaimLeftByAKilledRunLapses() throws {
    let fixture = try StoreFixture()
    let aino = email("aino@example.fi")
    _ = try fixture.store.recordErasureRequest(email: aino, requestId: "r1", reason: nil)
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .claimed)
    fixture.clock.advance(by: .seconds(Int(SyncStore.erasureClaimDuration) + 1))
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .takenOver)
    try fixture.store.releaseErasureClaim(of: aino)
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .claimed)
}

/// A second request that joins while the first is being verified (an `erase` during a sync) is not orphaned:
/// the first's verification keeps the subject's entry for it, marked sent, so it is verified and ends verified.
@Test func aRequestJoiningWhileTheFirstIsVerifiedKeepsItsEntryAndOnlyVerifies() throws {
    let fixture = try StoreFixture()
    let aino = email("aino@example.fi")
    _ = try fixture.store.recordErasureRequest(email: aino, requestId: "r1", reason: nil)
    try fixture.store.eraseLocally(requestId: "r1")
    try fixture.store.updateErasure("r1", state: .sent)
    // The operator's second request lands while a sync verifies the first.
    _ = try fixture.store.recordErasureRequest(email: aino, requestId: "r2", reason: nil)
    try fixture.store.updateErasures(["r1"], state: .verified)
    let pending = try #require(try fixture.store.pendingErasure(requestId: "r2"))
    #expect(pending.requests.map(\.id) == ["r2"])
    #expect(pending.requests.allSatisfy { $0.sentAt != nil }, "only the verification is left")
    #expect(try fixture.store.claimErasureDeletes(of: aino) == .alreadySent)
    try fixture.store.updateErasures(["r2"], state: .verified)
    #expect(try fixture.store.erasureRequests().allSatisfy { $0.state == .verified })
    #expect(try fixture.store.outboxCount() == 0)
}
