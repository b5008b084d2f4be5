import Foundation
@testable import HindsightLog
@testable import HindsightLogWriter
@testable import HindsightCore
import HindsightCatalog
import HindsightTestSupport

/// Every stored line of a log, in order, as text.
func storedLines(_ directory: String) throws -> [String] {
    var lines: [String] = []
    try LogReader(directory: directory).scanLines { _, line in
        lines.append(String(decoding: line, as: UTF8.self))
        return true
    }
    return lines
}

