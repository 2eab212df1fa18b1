import Foundation
import SyncModel
import Testing

/// A sync key is stored and coded by its raw value, which never changes.
@Suite struct SyncKeyTests {
    @Test(arguments: [
        (SyncKey.field(.city), "city"), (.consent(.newsletter), "consent.newsletter"),
        (.optedOutOfAll, "optedOutOfAll"), (.record, "record"), (.crmId, "crmId"),
    ])
    func aKeyCodesAsItsRawValue(key: SyncKey, raw: String) throws {
        #expect(key.rawValue == raw)
        #expect(SyncKey(rawValue: raw) == key)
        let encoded = try JSONEncoder().encode([key])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"\(raw)\"]")
        #expect(try JSONDecoder().decode([SyncKey].self, from: encoded) == [key])
    }

    @Test func anUnknownKeyIsNoKey() {
        #expect(SyncKey(rawValue: "consent.") == nil)
        #expect(SyncKey(rawValue: "shoeSize") == nil)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([SyncKey].self, from: Data("[\"shoeSize\"]".utf8))
        }
    }
}
