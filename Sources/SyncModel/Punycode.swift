/// Punycode (RFC 3492): how an internationalised domain label travels as ASCII (`bücher` ⇄ `bcher-kva`, written
/// `xn--bcher-kva` in a domain, RFC 5891's A-label).
///
/// Only what ``EmailAddress`` needs: one label at a time, already lower-cased and in NFC.
enum Punycode {
    private static let base: UInt32 = 36
    private static let tMin: UInt32 = 1
    private static let tMax: UInt32 = 26
    private static let skew: UInt32 = 38
    private static let damp: UInt32 = 700
    private static let initialBias: UInt32 = 72
    private static let initialN: UInt32 = 128

    /// The Punycode of `label` (without the `xn--` prefix), or nil when it overflows.
    static func encode(_ label: String) -> String? {
        let scalars = label.unicodeScalars.map(\.value)
        var output = scalars.filter { $0 < 0x80 }.map { Character(Unicode.Scalar(UInt8($0))) }
        let basicCount = UInt32(output.count)
        var handled = basicCount
        if basicCount > 0 { output.append("-") }
        var n = initialN
        var delta: UInt32 = 0
        var bias = initialBias
        while handled < UInt32(scalars.count) {
            guard let next = scalars.filter({ $0 >= n }).min() else { return nil }
            let (step, overflow) = (next - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow, delta <= UInt32.max - step else { return nil }
            delta += step
            n = next
            for scalar in scalars {
                if scalar < n {
                    guard delta < UInt32.max else { return nil }
                    delta += 1
                }
                if scalar == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = threshold(k, bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    /// The label `encoded` (without the `xn--` prefix) stands for, or nil when it is not valid Punycode.
    static func decode(_ encoded: String) -> String? {
        let input = Array(encoded.unicodeScalars)
        var output: [UInt32] = []
        var start = 0
        if let dash = input.lastIndex(of: "-") {
            for scalar in input[..<dash] {
                guard scalar.isASCII else { return nil }
                output.append(scalar.value)
            }
            start = dash + 1
        }
        var n = initialN
        var i: UInt32 = 0
        var bias = initialBias
        var position = start
        while position < input.count {
            let oldI = i
            var w: UInt32 = 1
            var k = base
            while true {
                guard position < input.count, let value = value(of: input[position]) else { return nil }
                position += 1
                let (product, overflow) = value.multipliedReportingOverflow(by: w)
                guard !overflow, i <= UInt32.max - product else { return nil }
                i += product
                let t = threshold(k, bias)
                if value < t { break }
                let (next, overflowW) = w.multipliedReportingOverflow(by: base - t)
                guard !overflowW else { return nil }
                w = next
                k += base
            }
            let length = UInt32(output.count + 1)
            bias = adapt(i - oldI, length, oldI == 0)
            guard UInt32.max - n >= i / length else { return nil }
            n += i / length
            i %= length
            guard n >= 0x80, Unicode.Scalar(n) != nil else { return nil }
            output.insert(n, at: Int(i))
            i += 1
        }
        var result = ""
        for value in output {
            guard let scalar = Unicode.Scalar(value) else { return nil }
            result.unicodeScalars.append(scalar)
        }
        return result
    }

    private static func threshold(_ k: UInt32, _ bias: UInt32) -> UInt32 {
        k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
    }

    private static func adapt(_ delta: UInt32, _ count: UInt32, _ first: Bool) -> UInt32 {
        var delta = first ? delta / damp : delta / 2
        delta += delta / count
        var k: UInt32 = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    private static func digit(_ value: UInt32) -> Character {
        Character(Unicode.Scalar(UInt8(value < 26 ? value + 97 : value + 22)))
    }

    private static func value(of scalar: Unicode.Scalar) -> UInt32? {
        switch scalar.value {
        case 0x30...0x39: return scalar.value - 22
        case 0x41...0x5A: return scalar.value - 0x41
        case 0x61...0x7A: return scalar.value - 0x61
        default: return nil
        }
    }
}
