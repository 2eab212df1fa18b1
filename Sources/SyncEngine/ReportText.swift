import Foundation

/// How a report shows text a CRM user (or a subject, through a form) could have typed: a value, a contact's label,
/// a note, HubSpot's own error messages.
///
/// Such text must never act on the reader. A bidi override (U+202E and its kin) reorders what a reviewer reads, a
/// line break fakes report lines, and in Markdown a tag (`<img onerror=…>`), a link or an image renders instead of
/// showing. Every format shows these as text: invisible and control characters as a visible `<U+202E>`; in
/// Markdown values as code spans (no markup, no autolink renders inside one) and free text with every ASCII
/// punctuation mark escaped; in JSON bidi and other format controls as `\u` escapes, so the value stays exact for
/// a machine but the file holds no control a viewer would obey.
public enum ReportText {
    /// `text` with every control character (C0, C1, line breaks, tabs) and every invisible format character (bidi
    /// embeddings, overrides, isolates and marks, zero-width characters, the BOM) written as a visible `<U+XXXX>`.
    public static func neutralized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isHidden) else { return text }
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            if isHidden(scalar) {
                result += "<U+" + hex(scalar) + ">"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// A value for a Markdown table cell: neutralised, in a code span whose fence is longer than any run of
    /// backticks inside it, with the table's `|` escaped.
    public static func markdownCode(_ text: String) -> String {
        let visible = neutralized(text)
        var longest = 0
        var run = 0
        for character in visible {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let padded = visible.hasPrefix("`") || visible.hasSuffix("`") || visible.isEmpty ? " \(visible) " : visible
        return (fence + padded + fence).replacingOccurrences(of: "|", with: "\\|")
    }

    /// Free text for Markdown: neutralised, with every ASCII punctuation mark backslash-escaped (CommonMark lets any
    /// be), so no tag, link, image, emphasis, heading or autolink can form.
    public static func markdownText(_ text: String) -> String {
        var result = ""
        for scalar in neutralized(text).unicodeScalars {
            if scalar.isASCII, scalar.properties.generalCategory.isPunctuationOrSymbol {
                result.unicodeScalars.append("\\")
            }
            result.unicodeScalars.append(scalar)
        }
        return result
    }

    /// Encoded JSON with every invisible format character (bidi controls above all) written as a `\u` escape; JSON
    /// already escapes the control characters. Such characters only stand inside strings, where the escape is the
    /// same value.
    public static func jsonEscapingFormatCharacters(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: isFormat) else { return json }
        var result = ""
        for scalar in json.unicodeScalars {
            if isFormat(scalar) {
                // JSON escapes UTF-16 code units: a scalar above U+FFFF is its surrogate pair.
                for unit in String(scalar).utf16 { result += "\\u" + hex(unit) }
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Control characters and invisible format characters.
    static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || isFormat(scalar)
    }

    /// Invisible characters: Unicode's format characters (category Cf: bidi controls, zero-width characters, the
    /// BOM, tags), the line and paragraph separators, and every other default-ignorable code point (Hangul fillers,
    /// the combining grapheme joiner), but for the emoji variation selectors (U+FE0E, U+FE0F), which only choose
    /// how the character before them is drawn.
    static func isFormat(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return true
        default: return scalar.properties.isDefaultIgnorableCodePoint && !(0xFE0E...0xFE0F).contains(scalar.value)
        }
    }

    private static func hex(_ scalar: Unicode.Scalar) -> String { hex(scalar.value) }

    private static func hex(_ unit: UInt16) -> String { hex(UInt32(unit)) }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension Unicode.GeneralCategory {
    /// ASCII's punctuation marks and symbols (`<`, `[`, `*`, `` ` ``, `|`, `$`, …): what Markdown may read as markup.
    fileprivate var isPunctuationOrSymbol: Bool {
        switch self {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default: return false
        }
    }
}
