import Foundation
import HindsightCatalog
import HindsightCore
import HindsightEngine
import HindsightLog
import HindsightProjections
import HindsightReadSide
import HindsightTestSupport
import Testing

/// A read model of the kind docs/architecture.md shows: events counted by type.
final class TypeCounts: ReadModel, @unchecked Sendable {
    let name: String
    let version: Int
    let types: Set<String>?
    var applied = 0
    /// Small, so that a build of the test's history takes several batches.
    let buildBatch = 700

    init(name: String = "type_counts", version: Int = 1, types: Set<String>? = nil) {
        self.name = name
        self.version = version
        self.types = types
    }

    func create(in db: SQLiteDatabase) throws(LogError) {
        try db.execute("CREATE TABLE counts (type TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    }

    func apply(_ events: [ProjectedEvent], in db: SQLiteDatabase) throws(LogError) {
        for event in events {
            applied += 1
            try db.statement("INSERT INTO counts VALUES (?, 1) ON CONFLICT (type) DO UPDATE SET n = n + 1").bind(1, event.type).run()
        }
    }

    func count(_ type: String, in projections: Projections) throws -> Int64 {
        let row = try projections.database(name)!.statement("SELECT n FROM counts WHERE type = ?").bind(1, type)
        return try row.step() ? row.int(0) : 0
    }
}

@Suite("The projection engine")
struct ProjectionEngineTests {
    let dir = TemporaryDirectory()

    init() throws {
        let file = dir.path + "/history.ndjson"
        try run(generateExecutable, ["--events", "5000", "--seed", "9"]).stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let appended = try run(hindsightExecutable, ["append", "--data", dir.path, file])
        precondition(appended.status == 0, appended.stderr)
    }

    func open(_ model: TypeCounts) throws -> Projections {
        try Projections(source: EventSource(directory: dir.path), models: [model])
    }

    @Test func aModelFoldsEveryEventOfItsTypesOnceAndResumesFromItsCheckpoint() throws {
        let reader = try LogReader(directory: dir.path)
        var expected = 0
        try reader.read(ReadQuery()) { event in
            if event.type == "function.invoked" { expected += 1 }
            return true
        }
        let model = TypeCounts(types: ["function.invoked"])
        let projections = try open(model)
        try projections.catchUp(reader)
        #expect(try model.count("function.invoked", in: projections) == Int64(expected))
        #expect(model.applied == expected)
        #expect(try projections.positions() == ["type_counts": 5000])
        // Opened again, it starts from its checkpoint: nothing is applied twice.
        let again = TypeCounts(types: ["function.invoked"])
        let reopened = try open(again)
        try reopened.catchUp(reader)
        #expect(again.applied == 0)
        #expect(try again.count("function.invoked", in: reopened) == Int64(expected))
    }

    @Test func modelsBuiltTogetherFoldEachEventOfTheirTypesOnceAsEachAloneWould() throws {
        let reader = try LogReader(directory: dir.path)
        let kinds: [Set<String>?] = [["function.invoked"], ["metric.recorded", "build.started"], nil]
        let together = kinds.enumerated().map { TypeCounts(name: "together_\($0.offset)", types: $0.element) }
        try Projections(source: EventSource(directory: dir.path), models: together).catchUp(reader)
        for (index, types) in kinds.enumerated() {
            let alone = TypeCounts(name: "alone_\(index)", types: types)
            let projections = try Projections(source: EventSource(directory: dir.path), models: [alone])
            try projections.catchUp(reader)
            #expect(together[index].applied == alone.applied, "\(types ?? [])")
            let built = try Projections(
                source: EventSource(directory: dir.path), models: [TypeCounts(name: "together_\(index)", types: types)])
            for type in types ?? ["function.invoked", "metric.recorded", "build.started", "role.granted"] {
                #expect(try alone.count(type, in: projections) == TypeCounts(name: "together_\(index)").count(type, in: built), "\(type)")
            }
            #expect(try built.positions() == ["together_\(index)": 5000])
        }
        #expect(together[2].applied == 5000)
    }

    @Test func aNewVersionOfAModelIsBuiltAgainFromTheLog() throws {
        let reader = try LogReader(directory: dir.path)
        let first = TypeCounts()
        try open(first).catchUp(reader)
        #expect(first.applied == 5000)
        let same = TypeCounts()
        try open(same).catchUp(reader)
        #expect(same.applied == 0)
        let changed = TypeCounts(version: 2)
        let projections = try open(changed)
        try projections.catchUp(reader)
        #expect(changed.applied == 5000)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/projections/type_counts.sqlite.building"))
    }
}
