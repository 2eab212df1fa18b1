import Foundation
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
