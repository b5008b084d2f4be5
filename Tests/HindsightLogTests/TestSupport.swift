import Foundation
import HindsightCatalog
import HindsightTestSupport

@testable import HindsightCore
@testable import HindsightLog
@testable import HindsightLogWriter

/// Every stored line of a log, in order, as text.
func storedLines(_ directory: String) throws -> [String] {
    var lines: [String] = []
    try LogReader(directory: directory).scanLines { _, line in
        lines.append(String(decoding: line, as: UTF8.self))
        return true
    }
    return lines
}
