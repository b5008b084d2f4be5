public import HindsightCatalog
public import HindsightCore
public import HindsightLog
package import HindsightVault

/// The log as its readers see it: read models, the query service, exports and the command
/// line read acknowledged events through it, and every event they show passes `present`,
/// the one place where personal data is revealed (or shown as `[erased]`) and an old
/// version is upcast. It cannot append: writing is `Engine`'s alone, in a module that read
/// models and evidence do not import.
public final class EventSource: Sendable {
    public let directory: String
    /// The catalogue events are checked against and read through.
    public let catalog: Catalog
    package let vault: PersonalDataVault

    /// Opens a data directory for reading; a writer may be appending beside it.
    public convenience init(directory: String, catalog: Catalog = .standard) throws(LogError) {
        self.init(directory: directory, catalog: catalog, vault: try PersonalDataVault(dataDirectory: directory))
    }

    package init(directory: String, catalog: Catalog, vault: PersonalDataVault) {
        self.directory = directory
        self.catalog = catalog
        self.vault = vault
    }

    /// A reader of everything acknowledged so far.
    public func reader() throws(LogError) -> LogReader {
        try LogReader(directory: directory)
    }

    /// A stored event as readers see it: personal data revealed (or `[erased]`) and, with
    /// `upcast`, in the newest version of its type.
    public func present(_ event: StoredEvent, upcast: Bool = false) -> StoredEvent {
        let revealed = vault.reveal(event, catalog: catalog)
        return upcast ? revealed.upcast(by: catalog) : revealed
    }

}
