internal import CSQLite
import Foundation
public import HindsightCore

/// A SQLite database, as read models keep their tables: a thin layer over the C API with
/// prepared statements kept by their text, and every failure a `LogError` naming the
/// statement and the database.
public final class SQLiteDatabase {
    private let handle: OpaquePointer
    public let path: String
    private var statements: [String: Statement] = [:]
    /// The statement used last: a model applying events runs the same one again and again,
    /// and comparing its text is cheaper than hashing it.
    private var last: (sql: String, statement: Statement)?
    /// The SQL functions defined on this connection.
    private var functions: Set<String> = []
    /// Kept as long as the connection and let go after it closes (a generation's lock).
    var keptOpenWith: AnyObject?

    /// Opens (or creates) a database. `bulkLoad` is for a file being built that nobody reads
    /// yet: no journal, no syncs, a large cache; a crash leaves a file to throw away. With
    /// `mustExist`, a missing file is an error, never a new empty database.
    public init(path: String, readOnly: Bool = false, bulkLoad: Bool = false, mustExist: Bool = false) throws(LogError) {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (mustExist ? 0 : SQLITE_OPEN_CREATE))
        let status = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw LogError(Self.code(of: status), "cannot open the read model's database: \(message)", location: path)
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5000)
        if bulkLoad {
            try execute(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY; PRAGMA locking_mode = EXCLUSIVE"
            )
        } else if !readOnly {
            // WAL: readers (another process's queries) go on while the read model is written.
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
        }
    }

    deinit {
        last = nil
        statements.removeAll()
        sqlite3_close(handle)
    }

    /// Runs SQL that returns no rows (several statements may be separated by semicolons).
    public func execute(_ sql: String) throws(LogError) {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw LogError(Self.code(of: status), "read model statement failed: \(text) (\(sql.prefix(80)))", location: path)
        }
    }

    /// A damaged file is a read model to build again, not an I/O error to report.
    static func code(of status: Int32) -> LogError.Code {
        switch status & 0xFF {
        case SQLITE_CORRUPT, SQLITE_NOTADB: .readModelDamaged
        default: .io
        }
    }

    /// The prepared statement for `sql`, reset and ready to bind.
    public func statement(_ sql: String) throws(LogError) -> Statement {
        if let last, last.sql == sql {
            last.statement.reset()
            return last.statement
        }
        if let known = statements[sql] {
            known.reset()
            last = (sql, known)
            return known
        }
        var prepared: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
        guard status == SQLITE_OK, let prepared else {
            throw LogError(
                Self.code(of: status), "read model statement is invalid: \(String(cString: sqlite3_errmsg(handle))) (\(sql.prefix(80)))",
                location: path)
        }
        let statement = Statement(prepared, database: self)
        statements[sql] = statement
        last = (sql, statement)
        return statement
    }

    /// Defines a SQL function of two blobs that returns a blob, once per connection: for a
    /// read model's upserts that merge what a row holds with what a batch adds (sketches).
    /// When `body` returns nil (a blob is not what it should be), the statement fails.
    public func defineBlobFunction(_ name: String, _ body: @escaping @Sendable ([UInt8], [UInt8]) -> [UInt8]?) throws(LogError) {
        guard functions.insert(name).inserted else { return }
        let box = Unmanaged.passRetained(BlobFunction(body)).toOpaque()
        let status = sqlite3_create_function_v2(
            handle, name, 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, box,
            { context, _, arguments in
                let function = Unmanaged<BlobFunction>.fromOpaque(sqlite3_user_data(context)!).takeUnretainedValue()
                let blob = { (index: Int) -> [UInt8] in
                    guard let value = arguments?[index], let bytes = sqlite3_value_blob(value) else { return [] }
                    return Array(UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_value_bytes(value))))
                }
                guard let result = function.body(blob(0), blob(1)) else {
                    return sqlite3_result_error(context, "a stored blob cannot be read", -1)
                }
                result.withUnsafeBytes { bytes in
                    sqlite3_result_blob(context, bytes.baseAddress, Int32(bytes.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
                }
            }, nil, nil, { box in box.map { Unmanaged<BlobFunction>.fromOpaque($0).release() } })
        guard status == SQLITE_OK else { throw failure("defining \(name)") }
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE: one writer at a time, across
    /// processes), committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws(LogError) -> T) throws(LogError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    fileprivate func failure(_ what: String) -> LogError {
        LogError(
            Self.code(of: sqlite3_errcode(handle)), "read model \(what) failed: \(String(cString: sqlite3_errmsg(handle)))", location: path)
    }

    /// A prepared statement: bind parameters (from 1), then step through the rows.
    public final class Statement {
        private let handle: OpaquePointer
        private unowned let database: SQLiteDatabase

        fileprivate init(_ handle: OpaquePointer, database: SQLiteDatabase) {
            self.handle = handle
            self.database = database
        }

        deinit { sqlite3_finalize(handle) }

        /// Makes the statement ready to bind and run again (`statement(_:)` hands it out so);
        /// for a statement held across many runs.
        @discardableResult
        public func reset() -> Statement {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
            return self
        }

        /// Ends a query whose rows were read: a statement left mid-way holds a read
        /// transaction, which keeps this connection from starting a write.
        public func finish() {
            sqlite3_reset(handle)
        }

        @discardableResult
        public func bind(_ index: Int32, _ value: Int64?) -> Statement {
            if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
            return self
        }

        @discardableResult
        public func bind(_ index: Int32, _ value: String?) -> Statement {
            if let value {
                sqlite3_bind_text(handle, index, value, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            } else {
                sqlite3_bind_null(handle, index)
            }
            return self
        }

        /// Binds UTF-8 text given as its bytes (SQLite copies them).
        @discardableResult
        public func bind(_ index: Int32, text bytes: [UInt8]) -> Statement {
            // An empty array may have no storage; "" is then the text bound.
            if bytes.isEmpty { return bind(index, "") }
            bytes.withUnsafeBytes { raw in
                _ = sqlite3_bind_text(
                    handle, index, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count),
                    unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
            return self
        }

        @discardableResult
        public func bind(_ index: Int32, _ value: Double?) -> Statement {
            if let value { sqlite3_bind_double(handle, index, value) } else { sqlite3_bind_null(handle, index) }
            return self
        }

        /// Binds bytes as a blob (SQLite copies them).
        @discardableResult
        public func bind(_ index: Int32, blob bytes: [UInt8]) -> Statement {
            bytes.withUnsafeBytes { raw in
                _ = sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
            return self
        }

        /// Runs a statement that returns no rows with `bytes` bound as UTF-8 text at `index`,
        /// without SQLite copying them first (they are read only while it runs): for long
        /// texts written many times over, such as stored event lines.
        public func run(bindingText bytes: [UInt8], at index: Int32) throws(LogError) {
            try run(bindingText: bytes[...], at: index)
        }

        public func run(bindingText bytes: ArraySlice<UInt8>, at index: Int32) throws(LogError) {
            guard !bytes.isEmpty else { return try bind(index, "").run() }
            let code = bytes.withUnsafeBytes { raw in
                sqlite3_bind_text(handle, index, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count), nil)
                var code: Int32
                repeat { code = sqlite3_step(handle) } while code == SQLITE_ROW
                sqlite3_bind_null(handle, index)  // the bytes are not to be read again
                return code
            }
            guard code == SQLITE_DONE else { throw database.failure("step") }
        }

        /// Advances to the next row; false when there is none.
        public func step() throws(LogError) -> Bool {
            switch sqlite3_step(handle) {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw database.failure("step")
            }
        }

        /// Runs a statement that returns no rows.
        public func run() throws(LogError) {
            while try step() {}
        }

        public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

        public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

        public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

        /// A text column's UTF-8 bytes, without making a String of them.
        public func bytes(_ column: Int32) -> [UInt8] {
            guard let text = sqlite3_column_text(handle, column) else { return [] }
            return Array(UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, column))))
        }

        /// A blob column's bytes.
        public func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: bytes, count: count))
        }

        /// A column of the current row as JSON: an integer, a number, a string, null, or a
        /// blob as its lowercase hex in a string.
        public func json(_ column: Int32) -> String {
            switch sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER: return String(sqlite3_column_int64(handle, column))
            case SQLITE_FLOAT: return String(sqlite3_column_double(handle, column))
            case SQLITE_NULL: return "null"
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(handle, column))
                let bytes = sqlite3_column_blob(handle, column).map { UnsafeRawBufferPointer(start: $0, count: count) }
                return "\"" + (bytes ?? UnsafeRawBufferPointer(start: nil, count: 0)).map { String(format: "%02x", $0) }.joined() + "\""
            default: return JSONText.quoted(text(column) ?? "")
            }
        }

        public func text(_ column: Int32) -> String? {
            sqlite3_column_text(handle, column).map { String(cString: $0) }
        }
    }
}

/// A Swift function SQLite calls (`SQLiteDatabase.defineBlobFunction`).
private final class BlobFunction {
    let body: @Sendable ([UInt8], [UInt8]) -> [UInt8]?
    init(_ body: @escaping @Sendable ([UInt8], [UInt8]) -> [UInt8]?) { self.body = body }
}
