import Foundation
import Testing

@testable import SyncModel

@Test func emailIsTrimmedAndLowerCased() throws {
    #expect(try EmailAddress("  Aino.Laine@Example.FI \n").normalized == "aino.laine@example.fi")
}

@Test(arguments: [
    "", "aino", "aino@", "@example.fi", "aino@@example.fi", "aino@example", "ai no@example.fi", "aino@exa_mple.fi",
    ".aino@example.fi", "ai..no@example.fi", "aino@-example.fi", "aino@example.123", "aino@example..fi",
])
func invalidEmailIsRejectedWithoutEchoingIt(raw: String) {
    do {
        _ = try EmailAddress(raw)
        Issue.record("accepted an invalid address")
    } catch {
        #expect(error.field == "email")
        if !raw.isEmpty { #expect(!error.description.contains(raw)) }
    }
}

@Test(arguments: ["a@b.fi", "aino+news@example.fi", "o'brien@example.co.uk", "x@sub-domain.example.com"])
func validEmailIsAccepted(raw: String) throws {
    #expect(try EmailAddress(raw).normalized == raw)
}

@Test func emailPrintsMasked() throws {
    let email = try EmailAddress("aino@example.fi")
    #expect("\(email)" == "a***@example.fi")
    #expect(PersonalData.mask(name: "Aino") == "A***")
}

@Test func contactSetStampsOnlyRealChanges() throws {
    let start = Date(millisecondsSince1970: 1_700_000_000_000)
    var contact = Contact(email: try EmailAddress("aino@example.fi"), createdAt: start)
    let later = FieldStamp(at: start.addingTimeInterval(60), origin: .crm)
    #expect(try contact.set(.firstName, to: " Aino ", stamp: later))
    #expect(contact.firstName == "Aino")
    #expect(contact.stamps[.firstName] == later)
    let evenLater = FieldStamp(at: start.addingTimeInterval(120), origin: .local)
    #expect(try !contact.set(.firstName, to: "Aino", stamp: evenLater))
    #expect(contact.stamps[.firstName] == later)
    #expect(throws: ValidationError.self) { try contact.set(.phone, to: "call me", stamp: later) }
    #expect(throws: ValidationError.self) { try contact.set(.lifecycleStage, to: "friend", stamp: later) }
}

@Suite struct InternationalisedEmailTests {
    @Test(arguments: [
        ("user@bücher.fi", "user@xn--bcher-kva.fi"), ("user@xn--bcher-kva.fi", "user@xn--bcher-kva.fi"),
        ("User@BÜCHER.FI", "user@xn--bcher-kva.fi"), ("user@bu\u{0308}cher.fi", "user@xn--bcher-kva.fi"),
        ("üser@example.fi", "üser@example.fi"), ("u\u{0308}ser@example.fi", "üser@example.fi"),
        ("info@münchen.de", "info@xn--mnchen-3ya.de"), ("a@例え.テスト", "a@xn--r8jz45g.xn--zckzah"),
        ("a@bücher。fi", "a@xn--bcher-kva.fi"), ("a@xn--mller-kva.example", "a@xn--mller-kva.example"),
    ])
    func bothFormsAreOneCanonicalAddress(raw: String, canonical: String) throws {
        #expect(try EmailAddress(raw).normalized == canonical)
    }

    @Test(arguments: [
        "a@xn--bcher-kva-.fi", "a@b\u{3164}.fi", "\u{115F}a@example.fi", "a@b\u{202E}cher.fi", "a\u{202E}b@example.fi",
        "a b@example.fi",
        "a@bü cher.fi", "a@b_ü.fi", "a\u{200B}@example.fi", "a@xn--bcher-kva.123",
    ])
    func invalidInternationalisedAddressesAreRefused(raw: String) {
        #expect(throws: ValidationError.self) { try EmailAddress(raw) }
    }
}
