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
