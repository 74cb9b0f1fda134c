import Foundation
import Store

/// How the dashboard writes numbers, sizes and times: sizes in binary units with one decimal,
/// energy as a percentage with two decimals, dates in UTC with the time since.
enum DashboardFormat {
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func bytes(_ count: Int) -> String { bytes(Int64(count)) }

    /// 0.97341 → "97.34 %".
    static func percent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "–" }
        return String(format: "%.2f %%", fraction * 100)
    }

    static func decimal(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite else { return "–" }
        return String(format: "%.\(digits)g", value)
    }

    /// "2026-12-04 12:03:09 UTC".
    static func utc(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d UTC", c.year ?? 0, c.month ?? 0, c.day ?? 0,
                      c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// "just now", "42 s ago", "5 min ago", "3 h ago", "12 d ago" (or "in …" for a future time).
    static func relative(_ date: Date, now: Date) -> String {
        let seconds = now.timeIntervalSince(date)
        let magnitude = abs(seconds)
        let text: String
        switch magnitude {
        case ..<2: return "just now"
        case ..<60: text = "\(Int(magnitude)) s"
        case ..<3600: text = "\(Int(magnitude / 60)) min"
        case ..<86_400: text = "\(Int(magnitude / 3600)) h"
        default: text = "\(Int(magnitude / 86_400)) d"
        }
        return seconds >= 0 ? text + " ago" : "in " + text
    }

    /// A `<time>` element: the UTC time, and the time since in its title and after it.
    static func time(_ date: Date, now: Date) -> HTML {
        let iso = date.formatted(.iso8601)
        return "<time datetime=\"\(iso)\" title=\"\(utc(date))\">\(utc(date))</time> <span class=\"ago\">(\(relative(date, now: now)))</span>"
    }

    /// The first 12 hex digits of a digest, in a `<code>` titled with all of it.
    static func shortDigest(_ hex: String) -> HTML {
        "<code class=\"digest\" title=\"\(hex)\">\(String(hex.prefix(12)))</code>"
    }

    /// A path segment with everything but RFC 3986's unreserved characters (and `/` when `slash`)
    /// percent-encoded: adapter names keep their readable `team-a/chat-v2` form.
    static func pathSegment(_ text: String, keepingSlash slash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where slash:
                out += "/"
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The dashboard path of an adapter: by its first name (two readable segments when namespaced),
    /// else by digest.
    static func adapterPath(name: AdapterName?, digest: String) -> String {
        "/ui/adapters/" + (name.map { pathSegment($0.description, keepingSlash: true) } ?? digest)
    }

    /// A query component (`application/x-www-form-urlencoded`'s byte set, space as %20).
    static func query(_ text: String) -> String { pathSegment(text) }
}
