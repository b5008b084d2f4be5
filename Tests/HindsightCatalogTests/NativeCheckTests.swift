import Foundation
import HindsightCatalog
import HindsightCore
import Testing

/// The engine checks common.json's patterns natively; these tests hold each native check to
/// its definition's regular expression.
@Suite struct NativeCheckTests {
    struct Definition {
        let name: String
        let pattern: NSRegularExpression
        let minLength: Int
        let maxLength: Int
        /// `date-time` refuses what no calendar has (30 February), which a pattern cannot say.
        let isDateTime: Bool
        let samples: [String]

        /// What the definition's keywords say, by the regular expression, the length limits
        /// and, for date-time, a calendar.
        func accepts(_ value: String) -> Bool {
            let range = NSRange(value.startIndex..., in: value)
            let count = value.unicodeScalars.count
            guard pattern.firstMatch(in: value, range: range) != nil && count >= minLength && count <= maxLength else { return false }
            if isDateTime {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return formatter.date(from: value) != nil
            }
            return true
        }
    }

    static func definitions() throws -> [Definition] {
        let text = try Data(contentsOf: schemaFolder.appendingPathComponent("common.json"))
        let defs = try #require((try JSONSerialization.jsonObject(with: text) as? [String: Any])?["$defs"] as? [String: [String: Any]])
        return try defs.compactMap { name, body in
            guard let pattern = body["pattern"] as? String else { return nil }
            return Definition(
                name: name, pattern: try NSRegularExpression(pattern: pattern),
                minLength: body["minLength"] as? Int ?? 0, maxLength: body["maxLength"] as? Int ?? .max,
                isDateTime: body["format"] as? String == "date-time",
                samples: (body["examples"] as? [String] ?? []) + (body["x-counterExamples"] as? [String] ?? []))
        }.sorted { $0.name < $1.name }
    }

    /// Every sample, and every string one edit away from one (a character deleted, replaced
    /// or inserted, from an alphabet of the characters that matter to these patterns).
    static func variations(of samples: [String]) -> Set<String> {
        let alphabet = Array("aZz09_-.:/@*+ é~") + ["\u{1F600}"]
        var out = Set(samples)
        for sample in samples {
            let characters = Array(sample)
            for index in 0...characters.count {
                if index < characters.count {
                    var deleted = characters
                    deleted.remove(at: index)
                    out.insert(String(deleted))
                }
                for letter in alphabet {
                    var inserted = characters
                    inserted.insert(letter, at: index)
                    out.insert(String(inserted))
                    if index < characters.count {
                        var replaced = characters
                        replaced[index] = letter
                        out.insert(String(replaced))
                    }
                }
            }
        }
        return out
    }

    @Test func everyPatternHasANativeCheckThatAgreesWithIt() throws {
        let catalog = Catalog.standard
        var compared = 0
        for definition in try Self.definitions() {
            #expect(!definition.samples.isEmpty, "\(definition.name) has no examples")
            for value in Self.variations(of: definition.samples) {
                let native = try #require(catalog.conforms(value, to: definition.name), "no definition \(definition.name)")
                let expected = definition.accepts(value)
                #expect(native == expected, "\(definition.name): \(value.debugDescription) — engine \(native), schema \(expected)")
                compared += 1
            }
        }
        #expect(compared > 10_000)
    }

    @Test func examplesConformAndCounterExamplesDoNot() throws {
        let text = try Data(contentsOf: schemaFolder.appendingPathComponent("common.json"))
        let defs = try #require((try JSONSerialization.jsonObject(with: text) as? [String: Any])?["$defs"] as? [String: [String: Any]])
        for (name, body) in defs {
            for example in body["examples"] as? [String] ?? [] {
                #expect(Catalog.standard.conforms(example, to: name) == true, "\(name): \(example)")
            }
            for counter in body["x-counterExamples"] as? [String] ?? [] {
                #expect(Catalog.standard.conforms(counter, to: name) == false, "\(name): \(counter)")
            }
        }
        #expect(Catalog.standard.conforms("x", to: "noSuchDefinition") == nil)
    }

    /// The same examples and counter-examples, judged by a standard JSON Schema validator
    /// (Python's jsonschema), so the schemas mean to other tools what they mean to the engine.
    @Test func aStandardValidatorAgreesWithTheSchemaFolder() throws {
        let script = schemaFolder.deletingLastPathComponent().appendingPathComponent("Tools/check_schemas.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, schemaFolder.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains(" 0 problems"))
    }
}
