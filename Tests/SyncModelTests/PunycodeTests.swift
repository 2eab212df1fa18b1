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

/// Review findings: what earlier versions stored stays readable, and every spelling of a domain is known.
@Suite struct InternationalisedSpellingTests {
    @Test(arguments: ["user@xn--ls8h.la", "user@xn--zz.fi", "user@xn--bcher-kva.fi"])
    func anASCIILabelAnEarlierVersionStoredIsStillAnAddress(raw: String) throws {
        #expect(try EmailAddress(raw).normalized == raw)
    }

    @Test func anEmojiDomainIsOneAddressInBothForms() throws {
        #expect(try EmailAddress("user@💩.la").normalized == "user@xn--ls8h.la")
        #expect(try EmailAddress("user@xn--ls8h.la").display == "user@💩.la")
    }

    @Test func everyMixOfLabelSpellingsIsListed() throws {
        let spellings = try EmailAddress("user@bücher.рф").spellings
        #expect(spellings.first == "user@xn--bcher-kva.xn--p1ai")
        #expect(
            Set(spellings)
                == ["user@xn--bcher-kva.xn--p1ai", "user@bücher.xn--p1ai", "user@xn--bcher-kva.рф", "user@bücher.рф"])
    }
}
