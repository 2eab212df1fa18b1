import Testing

@testable import SyncModel

@Suite struct PunycodeTests {
    @Test func peopleAreShownTheUnicodeForm() throws {
        let address = try EmailAddress("aino@xn--bcher-kva.fi")
        #expect(address.display == "aino@bücher.fi")
        #expect(address.masked == "a***@bücher.fi")
        #expect(address.spellings == ["aino@xn--bcher-kva.fi", "aino@bücher.fi"])
        #expect(try EmailAddress("aino@example.fi").spellings == ["aino@example.fi"])
        #expect(try EmailAddress("aino@bücher.fi") == address)
    }

    @Test func punycodeRoundTripsTheRFCSamples() {
        let samples = [
            ("bücher", "bcher-kva"), ("münchen", "mnchen-3ya"), ("例え", "r8jz45g"), ("テスト", "zckzah"),
            ("пример", "e1afmkfd"), ("ドメイン名例", "eckwd4c7cu47r2wf"),
        ]
        for (unicode, ascii) in samples {
            #expect(Punycode.encode(unicode) == ascii)
            #expect(Punycode.decode(ascii) == unicode)
        }
        #expect(Punycode.decode("99999999999999") == nil)
    }
}
