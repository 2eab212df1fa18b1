import Foundation
import SyncEngine
import Testing

/// The escapes every report format applies to what a CRM user could have typed.
@Suite struct ReportTextTests {
    @Test func freeTextInMarkdownHasEveryMarkEscaped() {
        #expect(ReportText.markdownText("<img src=x>") == #"\<img src\=x\>"#)
        #expect(ReportText.markdownText("[a](http://b)") == #"\[a\]\(http\:\/\/b\)"#)
        #expect(ReportText.markdownText("www.evil.example") == #"www\.evil\.example"#)
        #expect(ReportText.markdownText("Äänekoski 12") == "Äänekoski 12")
    }

    @Test func textFormatShowsLineBreaksAndTabsInAValueVisibly() {
        #expect(ReportText.neutralized("Kauppakatu 1\nB 12\tX") == "Kauppakatu 1<U+000A>B 12<U+0009>X")
        #expect(ReportText.neutralized("a\u{2066}b\u{200B}c\u{FEFF}") == "a<U+2066>b<U+200B>c<U+FEFF>")
        #expect(ReportText.neutralized("Jyväskylä") == "Jyväskylä")
        #expect(ReportText.markdownCode("`") == "`` ` ``")
    }
}

extension ReportTextTests {
    @Test func aCharacterAboveTheBMPIsEscapedAsASurrogatePairSoJSONKeepsItExact() throws {
        let value = "\u{E0041}tag \u{202E}x"
        let json = ReportText.jsonEscapingFormatCharacters("[\"\(value)\"]")
        #expect(json == #"["\uDB40\uDC41tag \u202Ex"]"#)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
        #expect(decoded == [value])
    }

    @Test func invisibleLettersAndJoinersAreShownToo() {
        #expect(ReportText.neutralized("a\u{3164}b\u{034F}c") == "a<U+3164>b<U+034F>c")
        #expect(ReportText.neutralized("❤\u{FE0F}") == "❤\u{FE0F}")
    }
}
